import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, loadConfig } from '../../firmware/config.ts';

describe('config: matter', () => {
  it('defaults to port 5540 and RequirePINforRemoteOperation on, passcode and discriminator chosen at first start', () => {
    expect(DEFAULT_CONFIG.matter).toEqual({ port: 5540, requirePinForRemoteOperation: true });
  });

  it('refuses a passcode Matter forbids, an out-of-range discriminator, a bad interface name and unknown fields, naming them', () => {
    for (const [matter, message] of [
      [{ passcode: 12345678 }, /matter\.passcode.*must not be one Matter forbids/],
      [{ passcode: 33333333 }, /matter\.passcode/],
      [{ discriminator: 4096 }, /matter\.discriminator/],
      [{ port: 0 }, /matter\.port/],
      [{ listen: '0.0.0.0' }, /matter/],
      [{ interface: '' }, /matter\.interface.*network interface name/],
      [{ interface: 'eth0; rm' }, /matter\.interface.*network interface name/],
      [{ interface: 'a-very-long-name0' }, /matter\.interface/],
    ] as const) {
      expect(() => loadConfig({ overrides: { matter } }), JSON.stringify(matter)).toThrow(message);
    }
    expect(loadConfig({ overrides: { matter: { passcode: 20202021, discriminator: 3840 } } }).matter).toEqual(
      {
        port: 5540,
        passcode: 20202021,
        discriminator: 3840,
        requirePinForRemoteOperation: true,
      },
    );
    expect(loadConfig({ overrides: { matter: { interface: 'eth0' } } }).matter.interface).toBe('eth0');
  });
});
