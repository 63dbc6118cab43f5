/**
 * Bytes waiting for the line editor, capped: beyond `capacity` the oldest bytes are
 * dropped (and counted), so neither memory nor work grows with a flood, and what the
 * technician types after the flood (Ctrl-C, a command) is what survives. Reading is
 * O(1) per byte: chunks are kept whole with an offset into the first.
 */
export class InputQueue {
  private readonly chunks: Uint8Array[] = [];
  private offset = 0;
  private length = 0;
  /** Bytes dropped since the last `takeDropped`. */
  private dropped = 0;

  constructor(private readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be an integer >= 1');
  }

  get size(): number {
    return this.length;
  }

  push(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    const kept = bytes.length > this.capacity ? bytes.subarray(bytes.length - this.capacity) : bytes;
    this.dropped += bytes.length - kept.length;
    // A copy: the transport may reuse its buffer.
    this.chunks.push(Uint8Array.from(kept));
    this.length += kept.length;
    this.dropOldest(this.length - this.capacity);
  }

  shift(): number | undefined {
    const chunk = this.chunks[0];
    if (!chunk) return undefined;
    const byte = chunk[this.offset++]!;
    this.length--;
    if (this.offset >= chunk.length) {
      this.chunks.shift();
      this.offset = 0;
    }
    return byte;
  }

  clear(): void {
    this.chunks.length = 0;
    this.offset = 0;
    this.length = 0;
  }

  takeDropped(): number {
    const count = this.dropped;
    this.dropped = 0;
    return count;
  }

  private dropOldest(count: number): void {
    let excess = count;
    while (excess > 0) {
      const chunk = this.chunks[0]!;
      const take = Math.min(excess, chunk.length - this.offset);
      this.offset += take;
      this.length -= take;
      this.dropped += take;
      excess -= take;
      if (this.offset >= chunk.length) {
        this.chunks.shift();
        this.offset = 0;
      }
    }
  }
}
