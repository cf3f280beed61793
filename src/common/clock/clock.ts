import { Global, Injectable, Module } from '@nestjs/common';

/**
 * The time the lifecycle jobs act on. A provider rather than `new Date()` so tests (and a dry run asking
 * "what would happen next March?") can move it: `app.get(Clock).set(date)`.
 */
@Injectable()
export class Clock {
  private fixed: Date | null = null;

  now(): Date {
    return this.fixed ? new Date(this.fixed) : new Date();
  }

  /** Pins the clock to `at` (null: back to the system clock). */
  set(at: Date | null): void {
    this.fixed = at ? new Date(at) : null;
  }
}

@Global()
@Module({ providers: [Clock], exports: [Clock] })
export class ClockModule {}
