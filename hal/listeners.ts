/** A tiny typed listener set; devices use it so every `on*` returns an unsubscribe. */
export class Listeners<T> {
  private readonly set = new Set<(value: T) => void>();

  add(listener: (value: T) => void): () => void {
    if (typeof listener !== 'function') throw new TypeError('listener must be a function');
    this.set.add(listener);
    return () => this.set.delete(listener);
  }

  emit(value: T): void {
    for (const listener of [...this.set]) listener(value);
  }

  clear(): void {
    this.set.clear();
  }
}

/** Hardware answers on a later tick, never synchronously inside the call. */
export function later(fn: () => void): void {
  setImmediate(fn);
}
