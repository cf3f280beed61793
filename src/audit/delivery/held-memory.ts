import { batchBytes, heldBytes, type QueuedEvent } from '../queued-event';

/**
 * The writer's memory, in estimated bytes (`heldBytes`): its buffer, and the batches taken out of it that
 * are not done yet (in a COPY or spool write, or waiting for a retry), each batch counted once however many
 * times it is retried. Every update is O(1) but `cut` (O(batch), once per batch).
 */
export class HeldMemory {
  /** Bytes of the buffer. */
  private buffered = 0;
  private readonly batches = new Map<readonly QueuedEvent[], number>();
  private batchesBytes = 0;

  get total(): number {
    return this.buffered + this.batchesBytes;
  }

  get inBuffer(): number {
    return this.buffered;
  }

  /** An event appended to the buffer. */
  added(event: QueuedEvent): void {
    this.buffered += heldBytes(event);
  }

  /** The buffer emptied without a write (shutdown: what is left goes to the spool or is lost). */
  clearBuffer(): void {
    this.buffered = 0;
  }

  /**
   * How many events from the head of `buffer` the next batch takes: up to `size`, cut before it would pass
   * `maxBytes` (never below one event), with their bytes.
   */
  cut(buffer: readonly QueuedEvent[], size: number, maxBytes: number): { count: number; bytes: number } {
    const limit = Math.min(size, buffer.length);
    let count = 0;
    let bytes = 0;
    while (count < limit) {
      const next = heldBytes(buffer[count]);
      if (count > 0 && bytes + next > maxBytes) break;
      bytes += next;
      count++;
    }
    return { count, bytes };
  }

  /** A batch of `bytes` (from `cut`) left the buffer: held until `release`. */
  taken(batch: readonly QueuedEvent[], bytes: number): void {
    this.buffered -= bytes;
    this.hold(batch, bytes);
  }

  /** A batch that never was in the buffer (a synchronous write): held until `release`. */
  hold(batch: readonly QueuedEvent[], bytes = batchBytes(batch)): void {
    if (batch.length === 0 || this.batches.has(batch)) return;
    this.batches.set(batch, bytes);
    this.batchesBytes += bytes;
  }

  /** A batch no longer held: written, spooled or dropped. */
  release(batch: readonly QueuedEvent[]): void {
    const bytes = this.batches.get(batch);
    if (bytes === undefined) return;
    this.batches.delete(batch);
    this.batchesBytes -= bytes;
  }
}
