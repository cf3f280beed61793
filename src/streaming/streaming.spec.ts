import { randomBytes } from 'node:crypto';
import { backoff, deliveryIdOf } from './destination-runner';
import { internalHosts, validateDestination } from './destination-policy';
import { resolveStreamingOptions } from './destinations.service';
import { openSecret, sealSecret } from './secret-box';
import { failureOf, retryAfterMs } from './sinks/http-delivery';
import { streamingOptionsFromEnv, StreamingConfigError } from './streaming-options';
import { FormattedEvent } from './streaming.types';

const event = (id: string) => ({ source: { event: { id } } }) as unknown as FormattedEvent;

describe('delivery ids and backoff', () => {
  it('gives the same events the same delivery id, and different events another', () => {
    const a = deliveryIdOf([event('1'), event('2')]);
    expect(a).toBe(deliveryIdOf([event('1'), event('2')]));
    expect(a).not.toBe(deliveryIdOf([event('2'), event('1')]));
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });

  it('doubles from minMs up to maxMs, jittered in the upper half', () => {
    for (let attempt = 0; attempt < 30; attempt++) {
      const ceiling = Math.min(30_000, 500 * 2 ** attempt);
      const delay = backoff(attempt, { minMs: 500, maxMs: 30_000 });
      expect(delay).toBeGreaterThanOrEqual(ceiling / 2);
      expect(delay).toBeLessThanOrEqual(ceiling);
    }
  });
});

describe('HTTP answers', () => {
  it.each([
    [401, 'pause'],
    [403, 'pause'],
    [404, 'pause'],
    [400, 'reject'],
    [413, 'reject'],
    [422, 'reject'],
    [408, 'retry'],
    [429, 'retry'],
    [500, 'retry'],
    [503, 'retry'],
  ])('%i means %s', (status, failure) => expect(failureOf(status)).toBe(failure));

  it('reads Retry-After as seconds or a date, capped at 10 minutes', () => {
    expect(retryAfterMs('3')).toBe(3000);
    expect(retryAfterMs(new Date(60_000).toUTCString(), 0)).toBe(60_000);
    expect(retryAfterMs('86400')).toBe(600_000);
    expect(retryAfterMs('soon')).toBeUndefined();
    expect(retryAfterMs(null)).toBeUndefined();
  });
});

describe('destination validation', () => {
  const webhook = { url: 'https://siem.example.com/hook' };
  const secret = { secret: 'x'.repeat(32) };

  it('accepts a complete destination with its defaults', () => {
    const { problems, value } = validateDestination({
      name: 'siem',
      kind: 'webhook',
      settings: webhook,
      secret,
    });
    expect(problems).toEqual([]);
    expect(value).toMatchObject({
      format: 'json',
      personalData: 'encrypted',
      batchSize: 500,
      startFrom: null,
    });
  });

  it('names every bad field', () => {
    const { problems } = validateDestination({
      name: ' bad name',
      kind: 'fax',
      format: 'xml',
      settings: [],
      secret: { token: 1 },
      personalData: 'plain',
      startFrom: 'yesterday',
      batchSize: 0,
    });
    for (const field of [
      'name',
      'kind',
      'format',
      'settings',
      'secret',
      'personalData',
      'startFrom',
      'batchSize',
    ])
      expect(problems.some((p) => p.startsWith(field))).toBe(true);
  });

  it('refuses a format the kind cannot carry, and asks the kind about its settings', () => {
    expect(
      validateDestination({ name: 'a', kind: 'webhook', format: 'cef', settings: webhook, secret }).problems,
    ).toEqual(['format cef is not available for webhook (json, ocsf)']);
    const { problems } = validateDestination({
      name: 'a',
      kind: 'webhook',
      settings: { url: 'ftp://x' },
      secret: {},
    });
    expect(problems).toEqual([
      'settings.url must be an http or https URL',
      'secret.secret is required: at least 32 characters (the HMAC key)',
    ]);
  });

  it('finds internal addresses among the hosts a destination would call', async () => {
    for (const url of [
      'http://127.0.0.1/x',
      'http://10.1.2.3/x',
      'http://169.254.169.254/latest',
      'http://[::1]/x',
      'http://[fd00::1]/x',
    ])
      expect(await internalHosts('webhook', { url })).toHaveLength(1);
    expect(await internalHosts('webhook', { url: 'https://93.184.215.14/x' })).toEqual([]);
    expect(await internalHosts('webhook', { url: 'https://no-such-host.invalid/x' })).toEqual([
      'no-such-host.invalid (does not resolve)',
    ]);
  });
});

describe('sealed secrets', () => {
  it('open with the key and the destination they were sealed for, and nothing else', () => {
    const key = randomBytes(32);
    const sealed = sealSecret(key, 'dest-1', { token: 'hec-token' });
    expect(sealed.toString('latin1')).not.toContain('hec-token');
    expect(openSecret(key, 'dest-1', sealed)).toEqual({ token: 'hec-token' });
    expect(() => openSecret(key, 'dest-2', sealed)).toThrow();
    expect(() => openSecret(randomBytes(32), 'dest-1', sealed)).toThrow();
    const tampered = Buffer.from(sealed);
    tampered[15] ^= 1;
    expect(() => openSecret(key, 'dest-1', tampered)).toThrow();
  });
});

describe('streaming configuration', () => {
  it('reads the environment, with secrets from other variables', () => {
    const options = streamingOptionsFromEnv({
      AUDIT_STREAMING: 'off',
      AUDIT_STREAMING_POLL_MS: '250',
      AUDIT_STREAMING_DESTINATIONS: JSON.stringify([
        {
          name: 'siem',
          kind: 'splunk-hec',
          settings: { url: 'https://splunk:8088' },
          secret: { token: 'env:HEC' },
        },
      ]),
      HEC: 'the-token',
    });
    expect(options).toMatchObject({ run: false, pollIntervalMs: 250 });
    expect(options.destinations?.[0].secret).toEqual({ token: 'the-token' });
  });

  it('names every bad variable, and never prints a secret', () => {
    let error: StreamingConfigError | undefined;
    try {
      streamingOptionsFromEnv({
        AUDIT_STREAMING: 'maybe',
        AUDIT_STREAMING_POLL_MS: '1',
        AUDIT_STREAMING_DESTINATIONS: JSON.stringify([
          { name: 'a', kind: 'webhook', secret: { secret: 'env:MISSING' } },
        ]),
      });
    } catch (caught) {
      error = caught as StreamingConfigError;
    }
    expect(error?.problems).toEqual([
      'AUDIT_STREAMING must be on or off',
      'AUDIT_STREAMING_POLL_MS must be an integer >= 50',
      'AUDIT_STREAMING_DESTINATIONS[0].secret.secret: MISSING is not set',
    ]);
    expect(() => streamingOptionsFromEnv({ AUDIT_STREAMING_DESTINATIONS: '{' })).toThrow(/JSON array/);
  });

  it('refuses bad configured destinations at start-up, naming them', () => {
    expect(() =>
      resolveStreamingOptions(
        {
          destinations: [
            { name: 'siem', kind: 'webhook', settings: { url: 'nope' }, secret: { secret: 'x'.repeat(40) } },
            {
              name: 'siem',
              kind: 'webhook',
              settings: { url: 'https://a.example' },
              secret: { secret: 'x'.repeat(40) },
            },
          ],
        },
        undefined,
      ),
    ).toThrow(
      /streaming.destinations\[0\] \(siem\): settings.url must be an http or https URL[\s\S]*the name siem is used twice/,
    );
  });
});
