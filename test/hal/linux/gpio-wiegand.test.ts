import { describe, expect, it } from 'vitest';
import { parseBoardConfig } from '../../../hal/linux/board-config.ts';
import { GpioWiegand } from '../../../hal/linux/gpio-wiegand.ts';
import { VirtualScheduler } from '../../../hal/scheduler.ts';
import {
  decodeWiegand,
  encodeWiegand,
  type WiegandReading,
  type WiegandRefusal,
} from '../../../hal/wiegand.ts';
import { FakeGpioBackend } from '../fake-gpio.ts';
import { motorBoardJson } from '../linux-boards.ts';

const CONFIG = { chip: 'gpiochip0', d0: 7, d1: 8, bias: 'pull-up' as const, frameGapMs: 25 };

async function reader() {
  const gpio = new FakeGpioBackend();
  const scheduler = new VirtualScheduler();
  const device = await GpioWiegand.open(gpio, CONFIG, scheduler);
  const readings: WiegandReading[] = [];
  const refusals: WiegandRefusal[] = [];
  device.onReading((reading) => readings.push(reading));
  device.onRefused((refusal) => refusals.push(refusal));
  let ns = 5_000_000_000n;
  const send = (bits: readonly (0 | 1)[], gapAfterNs = 1_000_000_000n) => {
    for (const bit of bits) {
      gpio.pulse('gpiochip0', bit === 0 ? CONFIG.d0 : CONFIG.d1, ns);
      ns += 2_000_000n;
    }
    ns += gapAfterNs;
  };
  return { gpio, scheduler, device, readings, refusals, send };
}

describe('Wiegand frames', () => {
  it('checks the H10301 example: facility 1, card 1 with its parity bits', () => {
    // Facility 1 (8 bits) and card 1 (16 bits): 0x010001; even parity over the first
    // 12 data bits (one 1: parity 1), odd over the last 12 (one 1: parity 0).
    const bits = encodeWiegand(0x010001, 26);
    expect(bits.join('')).toBe('10000000100000000000000010');
    expect(decodeWiegand(bits)).toEqual({ ok: true, bits: 26, digits: String(0x010001) });
    expect(() => encodeWiegand(1 << 24, 26)).toThrow(RangeError);
  });
});

describe('GpioWiegand', () => {
  it('takes D0 and D1 as one request, so their edges share one ordered queue', async () => {
    const { gpio, device } = await reader();
    expect(gpio.trace()).toEqual(['request-input gpiochip0:7 pull-up', 'request-input gpiochip0:8 pull-up']);
    await device.close();
    expect(gpio.isHeld('gpiochip0', 7) || gpio.isHeld('gpiochip0', 8)).toBe(false);
  });

  it('splits two frames read in one batch where the kernel timestamps show the silence', async () => {
    const { scheduler, readings, refusals, send } = await reader();
    send(encodeWiegand(1234, 26), 40_000_000n); // 40 ms of silence, then the next frame
    send(encodeWiegand(5678, 26));
    await scheduler.advance(30);
    expect(readings.map((reading) => reading.digits)).toEqual(['1234', '5678']);
    expect(refusals).toEqual([]);
  });

  it('refuses a run of more bits than any format by its length, keeping no bits', async () => {
    const { scheduler, readings, refusals, send } = await reader();
    send(Array.from({ length: 80 }, (_, i) => (i % 2) as 0 | 1));
    await scheduler.advance(30);
    expect(refusals).toEqual([{ bits: 80, reason: 'length' }]);
    expect(readings).toEqual([]);
  });

  it('is refused by the board file on the gpiod-tools backend, and its lines count as used', () => {
    const tools = { ...motorBoardJson(), gpio: { chip: 'gpiochip0', backend: 'gpiod-tools' } };
    expect(() => parseBoardConfig({ ...tools, wiegand: { d0: 7, d1: 8 } })).toThrow(
      'board.wiegand: needs gpio.backend "uapi" (tool processes cannot order the edges of D0 and D1)',
    );
    expect(() => parseBoardConfig({ ...motorBoardJson(), wiegand: { d0: 7, d1: 24 } })).toThrow(
      /board\.indicator\.buzzer\.line: line 24 on gpiochip0 is already used by board\.wiegand\.d1/,
    );
    const board = parseBoardConfig({ ...motorBoardJson(), wiegand: { d0: 7, d1: 8, bias: 'disabled' } });
    expect(board.wiegand).toEqual({ d0: 7, d1: 8, bias: 'disable', frameGapMs: 25 });
  });
});
