import { randomFillSync } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';

const POOL_SIZE = 16 * 512;
let pool = new Uint8Array(POOL_SIZE);
let offset = POOL_SIZE;

/**
 * A UUIDv7 carrying `at` (milliseconds), so an id alone tells which partition holds the event. The random
 * bytes come from a pool filled 8 KiB at a time: asking the OS for 16 bytes per id cost ~4.6 us (bench/ingest
 * profile), more than the rest of building an event.
 */
export function eventId(at: Date): string {
  if (offset + 16 > POOL_SIZE) {
    pool = randomFillSync(new Uint8Array(POOL_SIZE));
    offset = 0;
  }
  const random = pool.subarray(offset, offset + 16);
  offset += 16;
  return uuidv7({ msecs: at.getTime(), random });
}
