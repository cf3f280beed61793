import { Readable } from 'node:stream';
import { VerifyReport } from './database-verifier';
import { ProgressLines, verifyLines, VerifyLine } from './verify-progress';

const report: VerifyReport = {
  ok: true,
  from: null,
  to: null,
  checkedEvents: 3,
  firstBroken: null,
  publishedHeads: { checked: false },
  chains: [],
};

async function linesOf(stream: Readable): Promise<VerifyLine[]> {
  let text = '';
  for await (const chunk of stream) text += String(chunk);
  expect(text.endsWith('\n')).toBe(true);
  return text
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
}

describe('ProgressLines', () => {
  it('starts with the total, then a line every 50k events however fast they come', () => {
    const lines: VerifyLine[] = [];
    const progress = new ProgressLines(
      (l) => lines.push(l),
      () => 0,
    );
    progress.start(120_000);
    for (let n = 1; n <= 120_000; n++) progress.read(n);
    expect(lines).toEqual([
      { type: 'start', totalEvents: 120_000 },
      { type: 'progress', checkedEvents: 50_000, totalEvents: 120_000 },
      { type: 'progress', checkedEvents: 100_000, totalEvents: 120_000 },
    ]);
  });

  it('adds a line once 250 ms have passed (the clock read every 256 events only)', () => {
    let now = 1_000;
    const clock = jest.fn(() => now);
    const lines: VerifyLine[] = [];
    const progress = new ProgressLines((l) => lines.push(l), clock);
    progress.start(null);
    for (let n = 1; n <= 1_000; n++) {
      if (n === 300) now += 249;
      if (n === 600) now += 1;
      progress.read(n);
    }
    expect(lines).toEqual([
      { type: 'start', totalEvents: null },
      { type: 'progress', checkedEvents: 768, totalEvents: null },
    ]);
    expect(clock.mock.calls.length).toBeLessThan(10);
  });
});

describe('verifyLines', () => {
  it('streams start, progress and exactly one result, then ends', async () => {
    const stream = verifyLines(async (progress) => {
      progress.start(2);
      for (let n = 1; n <= 50_000; n++) progress.read(n);
      return report;
    }, jest.fn());
    const lines = await linesOf(stream);
    expect(lines.map((l) => l.type)).toEqual(['start', 'progress', 'result']);
    expect(lines[2]).toEqual({ type: 'result', ...report });
  });

  it('ends with an error line that says nothing of the cause, which goes to onError', async () => {
    const onError = jest.fn();
    const failure = new Error('relation "audit_seals" does not exist: SELECT secret');
    const lines = await linesOf(
      verifyLines(async (progress) => {
        progress.start(null);
        throw failure;
      }, onError),
    );
    expect(lines).toEqual([
      { type: 'start', totalEvents: null },
      { type: 'error', message: 'verification failed' },
    ]);
    expect(onError).toHaveBeenCalledWith(failure);
  });

  it('lets the verification finish when the consumer has gone away', async () => {
    let finished = false;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const stream = verifyLines(async (progress) => {
      progress.start(1);
      await gate;
      for (let n = 1; n <= 60_000; n++) progress.read(n);
      finished = true;
      return report;
    }, jest.fn());
    await new Promise((resolve) => setImmediate(resolve));
    stream.destroy();
    release();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(finished).toBe(true);
    expect(stream.destroyed).toBe(true);
  });
});
