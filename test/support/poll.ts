/**
 * Polls `probe` every 100 ms until it returns something other than undefined, and returns that; throws
 * naming `what` after `timeoutMs`. (For checks that throw until they pass, see `eventually` in browser.ts.)
 */
export async function pollUntil<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
