import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ConfigInput, loadConfig } from '../firmware/config.ts';
import { type Firmware, type FirmwareOptions, startFirmware } from '../firmware/firmware.ts';
import type { LogControl } from '../firmware/log.ts';
import { createOfflineResolver } from '../firmware/offline-path.ts';
import { createSimHal, type SimHal } from '../hal/index.ts';
import { flushAsync, VirtualScheduler } from '../hal/scheduler.ts';

export interface SimLockOptions {
  /** Data dir to use; a fresh temporary one (removed on close) when absent. */
  dataDir?: string;
  /** Wall time the simulated RTC starts at. */
  startEpochMs?: number;
  config?: ConfigInput;
  log?: LogControl;
  travelMs?: number;
  /** False to start with an RTC that lost its battery. */
  rtcValid?: boolean;
}

/**
 * The real firmware on the simulated board with virtual time: what the keypad
 * simulator, the scenario runner and the behaviour tests all drive.
 */
export class SimLock {
  private constructor(
    readonly scheduler: VirtualScheduler,
    readonly hal: SimHal,
    private current: Firmware,
    readonly dataDir: string,
    private readonly options: SimLockOptions,
    private readonly ownsDataDir: boolean,
  ) {}

  static async create(options: SimLockOptions = {}): Promise<SimLock> {
    const ownsDataDir = !options.dataDir;
    const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'tumbler-sim-'));
    const scheduler = new VirtualScheduler();
    const hal = createSimHal(scheduler, {
      startEpochMs: options.startEpochMs ?? Date.now(),
      ...(options.travelMs !== undefined ? { travelMs: options.travelMs } : {}),
      ...(options.rtcValid !== undefined ? { rtcValid: options.rtcValid } : {}),
    });
    const firmware = await startFirmware(SimLock.firmwareOptions(dataDir, hal, scheduler, options));
    const lock = new SimLock(scheduler, hal, firmware, dataDir, options, ownsDataDir);
    await lock.settle();
    return lock;
  }

  private static firmwareOptions(
    dataDir: string,
    hal: SimHal,
    scheduler: VirtualScheduler,
    options: SimLockOptions,
  ): FirmwareOptions {
    return {
      dataDir,
      hal,
      scheduler,
      config: loadConfig({ overrides: { ...options.config } }),
      offline: createOfflineResolver,
      ...(options.log ? { log: options.log } : {}),
    };
  }

  get firmware(): Firmware {
    return this.current;
  }

  /** Presses keys and waits until the firmware has acted on them. */
  async press(keys: string): Promise<void> {
    this.hal.keypad.press(keys);
    await this.settle();
  }

  /** Moves virtual time forward; every timer due fires in order. */
  async advance(ms: number): Promise<void> {
    await this.scheduler.advance(ms);
    await this.settle();
  }

  /**
   * Waits until no decision is in flight and the hardware's answers have landed,
   * running timers that are due now (zero-delay hardware, like instant bolt travel).
   */
  async settle(): Promise<void> {
    for (let round = 0; round < 100; round++) {
      await flushAsync(3);
      if (this.scheduler.hasDue()) await this.scheduler.advance(0);
      else if (this.current.manager.busy === 0) return;
    }
    throw new Error('firmware did not settle within 300 event-loop rounds');
  }

  /** Cuts power and boots again on the same data dir; the RTC (battery) keeps time. */
  async powerCycle(): Promise<void> {
    this.current.crash();
    this.hal.actuator.stop();
    this.current = await startFirmware(
      SimLock.firmwareOptions(this.dataDir, this.hal, this.scheduler, this.options),
    );
    await this.settle();
  }

  async close(): Promise<void> {
    await this.current.close();
    await this.hal.close();
    if (this.ownsDataDir) rmSync(this.dataDir, { recursive: true, force: true });
  }
}
