import type { LockState } from '../lock.ts';
import type { Topics } from './topics.ts';

/** Home Assistant MQTT discovery for the lock entity (retained under homeassistant/lock/...). */
export function homeAssistantDiscovery(
  deviceId: string,
  topics: Topics,
  allowUnlock: boolean,
): Record<string, unknown> {
  return {
    name: null,
    unique_id: `tumbler_${deviceId}`,
    object_id: `tumbler_${deviceId}`,
    device: {
      identifiers: [`tumbler_${deviceId}`],
      name: `Tumbler ${deviceId}`,
      manufacturer: 'Tumbler',
      model: 'keypad lock',
    },
    availability_topic: topics.availability,
    payload_available: 'online',
    payload_not_available: 'offline',
    state_topic: topics.haState,
    command_topic: topics.haSet,
    payload_lock: 'LOCK',
    payload_unlock: 'UNLOCK',
    ...(allowUnlock ? {} : { payload_open: null }),
    state_locked: 'LOCKED',
    state_unlocked: 'UNLOCKED',
    state_locking: 'LOCKING',
    state_unlocking: 'UNLOCKING',
    state_jammed: 'JAMMED',
    optimistic: false,
    qos: 1,
  };
}

export function homeAssistantState(lock: LockState): string {
  return lock.toUpperCase();
}
