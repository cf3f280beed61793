/**
 * Exponential backoff with jitter between write attempts while Postgres fails: 100 ms doubling up to
 * `maxMs`, each wait drawn from its upper half so replicas that failed together do not retry together.
 */
export class RetryBackoff {
  private failures = 0;
  private retryAt = 0;

  constructor(private readonly maxMs: number) {}

  /** True once the wait after the last failure is over (always, after a success). */
  get ready(): boolean {
    return Date.now() >= this.retryAt;
  }

  /** Failures in a row. */
  get attempts(): number {
    return this.failures;
  }

  succeeded(): void {
    this.failures = 0;
    this.retryAt = 0;
  }

  /** Records a failure; returns the nominal wait before the next attempt, in ms. */
  failed(): number {
    this.failures++;
    const backoff = Math.min(this.maxMs, 100 * 2 ** (this.failures - 1));
    this.retryAt = Date.now() + backoff * (0.5 + Math.random() / 2);
    return backoff;
  }
}
