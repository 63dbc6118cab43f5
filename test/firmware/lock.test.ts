import { describe, expect, it } from 'vitest';
import { type LockEvent, LockMachine } from '../../firmware/lock.ts';
import { VirtualScheduler } from '../../hal/scheduler.ts';
import { SimActuator } from '../../hal/sim/actuator.ts';
import { SimDoor } from '../../hal/sim/door.ts';

function machine(options: Partial<{ autoRelockMs: number; retries: number }> = {}) {
  const scheduler = new VirtualScheduler();
  const actuator = new SimActuator(scheduler, { travelMs: 400 });
  const door = new SimDoor();
  const lock = new LockMachine(actuator, door, scheduler, {
    actuationTimeoutMs: 1000,
    retries: options.retries ?? 1,
    autoRelockMs: options.autoRelockMs ?? 5000,
  });
  const events: LockEvent[] = [];
  lock.onEvent((e) => events.push(e));
  const states = () => events.flatMap((e) => (e.type === 'state' ? [e.state] : []));
  return { scheduler, actuator, door, lock, events, states };
}

describe('LockMachine', () => {
  it('unlocks, then relocks by itself after the auto-relock time', async () => {
    const m = machine();
    m.lock.unlock();
    expect(m.lock.state).toBe('unlocking');
    await m.scheduler.advance(400);
    expect(m.lock.state).toBe('unlocked');
    await m.scheduler.advance(4999);
    expect(m.lock.state).toBe('unlocked');
    await m.scheduler.advance(1);
    expect(m.lock.state).toBe('locking');
    await m.scheduler.advance(400);
    expect(m.states()).toEqual(['unlocking', 'unlocked', 'locking', 'locked']);
    expect(m.actuator.drives.map((d) => d.target)).toEqual(['unlocked', 'locked']);
  });

  it('retries a jammed motor, then reports jammed, and recovers on a later command', async () => {
    const m = machine({ retries: 1 });
    m.actuator.jam();
    m.lock.unlock();
    await m.scheduler.advance(1000);
    expect(m.actuator.drives.length).toBe(2);
    expect(m.lock.state).toBe('unlocking');
    await m.scheduler.advance(1000);
    expect(m.lock.state).toBe('jammed');
    expect(m.events).toContainEqual({ type: 'jammed', target: 'unlocked', attempts: 2 });
    expect(m.actuator.energisedToward()).toBeNull();
    m.actuator.unjam();
    m.lock.lock();
    await m.scheduler.advance(1000);
    expect(m.lock.state).toBe('locked');
  });

  it('waits for the door to close before relocking, and reports a forced door', async () => {
    const m = machine({ autoRelockMs: 1000 });
    m.lock.unlock();
    await m.scheduler.advance(400);
    m.door.set('open');
    await m.scheduler.advance(5000);
    expect(m.lock.state).toBe('unlocked');
    m.door.set('closed');
    await m.scheduler.advance(400);
    expect(m.lock.state).toBe('locked');
    m.door.set('open');
    await m.scheduler.advance(1);
    expect(m.events).toContainEqual({ type: 'door_forced' });
  });

  it('stays unlocked while held open (passage mode)', async () => {
    const m = machine({ autoRelockMs: 1000 });
    m.lock.setHoldOpen(true);
    await m.scheduler.advance(60_000);
    expect(m.lock.state).toBe('unlocked');
    m.lock.lock();
    await m.scheduler.advance(60_000);
    expect(m.lock.state).toBe('unlocked');
    m.lock.setHoldOpen(false);
    await m.scheduler.advance(1400);
    expect(m.lock.state).toBe('locked');
  });

  it('follows the bolt when it moves without a command (strike pulse ends, key turned)', async () => {
    const m = machine({ autoRelockMs: 1000 });
    m.lock.unlock();
    await m.scheduler.advance(400);
    expect(m.lock.state).toBe('unlocked');
    m.actuator.drive('locked'); // the hardware relocks on its own
    await m.scheduler.advance(400);
    expect(m.lock.state).toBe('locked');
    await m.scheduler.advance(5000);
    expect(m.states()).toEqual(['unlocking', 'unlocked', 'locked']);
    m.actuator.drive('unlocked'); // a key turned from outside
    await m.scheduler.advance(400);
    expect(m.lock.state).toBe('unlocked');
    await m.scheduler.advance(1400);
    expect(m.lock.state).toBe('locked');
  });
});
