import { Listeners, later } from '../listeners.ts';
import {
  type Bit,
  decodeWiegand,
  encodeWiegand,
  type WiegandLength,
  type WiegandReader,
  type WiegandReading,
  type WiegandRefusal,
} from '../wiegand.ts';

/** A simulated Wiegand reader: a test sends whole frames, checked exactly as a real reader's. */
export class SimWiegand implements WiegandReader {
  private readonly readings = new Listeners<WiegandReading>();
  private readonly refusals = new Listeners<WiegandRefusal>();
  private closed = false;

  onReading(listener: (reading: WiegandReading) => void): () => void {
    return this.readings.add(listener);
  }

  onRefused(listener: (refusal: WiegandRefusal) => void): () => void {
    return this.refusals.add(listener);
  }

  /** Test control: the bits of one frame, as they came off the wires. */
  sendBits(bits: readonly Bit[]): void {
    if (this.closed) return;
    const frame = decodeWiegand(bits);
    later(() => {
      if (this.closed) return;
      if (frame.ok) this.readings.emit({ bits: frame.bits, digits: frame.digits });
      else this.refusals.emit({ bits: frame.bits, reason: frame.reason });
    });
  }

  /** Test control: a well-formed frame carrying `value` (a PIN as a number, or a card number). */
  send(value: number, length: WiegandLength = 26): void {
    this.sendBits(encodeWiegand(value, length));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.readings.clear();
    this.refusals.clear();
  }
}
