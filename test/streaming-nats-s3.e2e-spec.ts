import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DiscardPolicy, jetstreamManager, StorageType } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { toJsonRecord } from '../src/streaming/formats/json';
import { decodeSubjectToken, natsKind, natsSubject } from '../src/streaming/sinks/nats.sink';
import { s3Kind } from '../src/streaming/sinks/s3.sink';
import {
  AuditSink,
  DeliveryError,
  DestinationFormat,
  DestinationSpec,
  FormattedEvent,
  OutboundBatch,
  StreamEvent,
} from '../src/streaming/streaming.types';
import { freePort } from './support/process';
import { NatsReceiver, startNatsReceiver } from './support/receivers/nats';
import { deliveryProblems, ReceiverDestination } from './support/receivers/receiver';
import { S3Receiver, startS3Receiver } from './support/receivers/s3';

// The OCSF format is another engineer's file: its tests run once it exists.
const OCSF_FILE = join(__dirname, '..', 'src', 'streaming', 'formats', 'ocsf.ts');
type ToOcsf = (source: StreamEvent) => Record<string, unknown>;
const loadOcsf = (): ToOcsf =>
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  (require('../src/streaming/formats/ocsf') as { toOcsfRecord: ToOcsf }).toOcsfRecord;
const toOcsfRecord: ToOcsf | null = existsSync(OCSF_FILE) ? loadOcsf() : null;
const itOcsf = toOcsfRecord ? it : it.skip;

const PII = 'pii:v1:k1:AAAAbm9uY2Vub25jZQ:c2VjcmV0LWNpcGhlcnRleHQ';
/** Three chains: a plain id, a hostile one (subject and key syntax, unicode), and events without an organization. */
const ORGS = ['7f1c0de0-0000-4000-8000-000000000001', 'acme.corp *> /=%ü\t', ''];
const RESOURCE_TYPES = ['User', 'billing.Invoice', 'a*b>c d\u00e9/x=y', null];

/** Each organization's next seal sequence: chains continue from one batch (and test) to the next. */
const nextSeal = new Map<string, number>();

/**
 * `perOrg` events in each organization, interleaved, times increasing (from `startAt`, across an hour
 * boundary), three events per seal.
 */
function streamEvents(perOrg: number, startAt = Date.parse('2026-12-07T10:58:00.000Z')): StreamEvent[] {
  const out: StreamEvent[] = [];
  const first = new Map(ORGS.map((org) => [org, nextSeal.get(org) ?? 1]));
  for (let i = 0; i < perOrg; i++)
    ORGS.forEach((org, o) => {
      const occurredAt = new Date(startAt + (i * ORGS.length + o) * 20_000).toISOString();
      const seal = first.get(org)! + Math.floor(i / 3);
      nextSeal.set(org, seal + 1);
      out.push({
        orgKey: org,
        sealSeq: String(seal),
        event: {
          id: randomUUID(),
          occurredAt,
          organizationId: org || null,
          actorId: `user-${i}`,
          actorType: 'user',
          action: 'update',
          eventType: 'entity',
          resourceType: RESOURCE_TYPES[i % RESOURCE_TYPES.length],
          resourceId: `r-${i}`,
          before: { email: PII, note: 'line\nbreak "quoted" \u2028' },
          after: { email: PII, note: '</script><!-- \u0000' },
          changes: { note: { from: 'a', to: 'b' } },
          status: 'success',
          statusCode: 200,
          errorMessage: null,
          severity: 'info',
          requestId: `req-${i}`,
          reason: null,
          transactionId: null,
          ip: '203.0.113.7',
          userAgent: 'jest',
          route: '/things/:id',
          method: 'PATCH',
          durationMs: 3,
          metadata: { tag: `t${i}` },
        } as unknown as StreamEvent['event'],
      });
    });
  return out;
}

function batchOf(events: StreamEvent[], format: DestinationFormat = 'json'): OutboundBatch {
  const formatted: FormattedEvent[] = events.map((source) => {
    const record = format === 'ocsf' ? toOcsfRecord!(source) : toJsonRecord(source);
    return { source, record, text: JSON.stringify(record) };
  });
  return { deliveryId: randomUUID(), events: formatted };
}

function specOf(destination: ReceiverDestination, name = 'siem'): DestinationSpec {
  return { id: randomUUID(), name, ...destination };
}

async function failureOf(promise: Promise<unknown>): Promise<DeliveryError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(DeliveryError);
    return error as DeliveryError;
  }
  throw new Error('the send succeeded');
}

const ids = (events: StreamEvent[]) => events.map((e) => e.event.id);

describe('NATS JetStream sink (own nats-server, token auth)', () => {
  let receiver: NatsReceiver;
  let sink: AuditSink;
  const sinks: AuditSink[] = [];
  const create = (spec: DestinationSpec) => {
    const created = natsKind.create(spec);
    sinks.push(created);
    return created;
  };

  beforeAll(async () => {
    receiver = await startNatsReceiver();
    const destination = receiver.destination('json');
    expect(natsKind.validate(destination.settings, destination.secret)).toEqual([]);
    sink = create(specOf(destination));
  });
  afterAll(async () => {
    for (const s of sinks) await s.close();
    await receiver?.destroy();
  });

  it('publishes every event once, in chain order per organization, on <prefix>.<org>.<resource type> with its id as Nats-Msg-Id', async () => {
    const events = streamEvents(8);
    const batch = batchOf(events);
    await sink.send(batch);

    expect(deliveryProblems(ids(events), await receiver.received())).toEqual([]);
    const messages = await receiver.messages();
    expect(messages).toHaveLength(events.length);
    const byId = new Map(events.map((e) => [e.event.id, e]));
    for (const message of messages) {
      const source = byId.get(message.msgId!)!;
      expect(message.record.id).toBe(message.msgId);
      expect(message.subject).toBe(natsSubject(receiver.subjectPrefix, { source, record: null, text: '' }));
      // The tokens decode back to the organization and the resource type, whatever they contained.
      const [org, type] = message.subject.slice(receiver.subjectPrefix.length + 1).split('.');
      expect(decodeSubjectToken(org)).toBe(source.orgKey);
      expect(decodeSubjectToken(type)).toBe(source.event.resourceType ?? '');
      // Personal values leave as they came: tokens, never decrypted.
      expect(message.record.after).toEqual(source.event.after);
      expect((message.record.before as { email: string }).email).toBe(PII);
    }
  });

  it('sent again, the same batch adds nothing: JetStream drops the Msg-Id duplicates and the send still succeeds', async () => {
    const events = streamEvents(4, Date.parse('2026-12-07T12:00:00.000Z'));
    const batch = batchOf(events);
    const before = (await receiver.messages()).length;
    await sink.send(batch);
    expect((await receiver.messages()).length).toBe(before + events.length);
    await sink.send(batch);
    await sink.send({ ...batch, deliveryId: randomUUID() }); // a re-batched redelivery: same event ids
    expect((await receiver.messages()).length).toBe(before + events.length);
  });

  it('fails with retry within its timeout while the server is down, and the same batch goes through once it is back', async () => {
    const events = streamEvents(5, Date.parse('2026-12-07T13:00:00.000Z'));
    const batch = batchOf(events);
    const before = await receiver.received();
    await receiver.stop();
    try {
      const started = Date.now();
      const failure = await failureOf(sink.send(batch));
      expect(failure.failure).toBe('retry');
      expect(failure.message).toMatch(/127\.0\.0\.1:\d+/);
      // timeoutMs is 3 s: bounded, never hanging on the reconnecting client.
      expect(Date.now() - started).toBeLessThan(8_000);
      // A sink created during the outage cannot connect at all: retry as well.
      const fresh = create(specOf(receiver.destination('json')));
      expect((await failureOf(fresh.send(batch))).failure).toBe('retry');
    } finally {
      await receiver.start();
    }
    await sink.send(batch);
    const after = await receiver.received();
    expect(deliveryProblems([...before.map((e) => e.id), ...ids(events)], after)).toEqual([]);
    // Exactly once: whatever the client had buffered during the outage was deduplicated by Msg-Id.
    expect(after.length).toBe(before.length + events.length);
  }, 40_000);

  it('pauses when no stream captures the subject, naming it', async () => {
    const destination = receiver.destination('json');
    const settings = { ...destination.settings, subjectPrefix: 'nowhere.captured' };
    delete (settings as { stream?: string }).stream;
    const failure = await failureOf(
      create(specOf({ ...destination, settings })).send(batchOf(streamEvents(1))),
    );
    expect(failure.failure).toBe('pause');
    expect(failure.message).toMatch(/no JetStream stream captures subject nowhere\.captured\./);
    expect(failure.message).not.toContain(destination.secret.token);
  });

  it('pauses when the configured stream does not exist, or the token is refused; retries when nothing listens', async () => {
    const destination = receiver.destination('json');
    const missing = await failureOf(
      create(
        specOf({ ...destination, settings: { ...destination.settings, stream: 'NO_SUCH_STREAM' } }),
      ).send(batchOf(streamEvents(1))),
    );
    expect(missing.failure).toBe('pause');
    expect(missing.message).toMatch(/NO_SUCH_STREAM/);

    const wrong = 'wrong-token-0123456789';
    const refused = await failureOf(
      create(specOf({ ...destination, secret: { token: wrong } })).send(batchOf(streamEvents(1))),
    );
    expect(refused.failure).toBe('pause');
    expect(refused.message).not.toContain(wrong);

    const port = await freePort();
    const nobody = await failureOf(
      create(
        specOf({
          ...destination,
          settings: { ...destination.settings, servers: [`nats://127.0.0.1:${port}`] },
        }),
      ).send(batchOf(streamEvents(1))),
    );
    expect(nobody.failure).toBe('retry');
    expect(nobody.message).toContain(`127.0.0.1:${port}`);
  });

  it('rejects an event over the stream maximum message size, retries on a full stream, pauses on another stream', async () => {
    const destination = receiver.destination('json');
    const nc = await connect({ servers: receiver.url, token: destination.secret.token });
    const prefix = `limits.${randomUUID().slice(0, 8)}`;
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({
        name: `LIMITS_${prefix.slice(7)}`,
        subjects: [`${prefix}.>`],
        storage: StorageType.Memory,
        max_msgs: 2,
        discard: DiscardPolicy.New,
        max_msg_size: 4_096,
      });
      const settings = { ...destination.settings, subjectPrefix: prefix };
      delete (settings as { stream?: string }).stream;
      const limited = create(specOf({ ...destination, settings }));
      const [big] = streamEvents(1);
      (big.event.after as Record<string, unknown>).blob = 'x'.repeat(5_000);
      expect((await failureOf(limited.send(batchOf([big])))).failure).toBe('reject');
      await limited.send(batchOf(streamEvents(1).slice(0, 2)));
      const full = await failureOf(limited.send(batchOf(streamEvents(1).slice(0, 1))));
      expect(full.failure).toBe('retry');
      expect(full.message).toMatch(/maximum messages exceeded/);

      // settings.stream names the receiver's stream, but these subjects belong to the limits stream.
      const elsewhere = create(
        specOf({ ...destination, settings: { ...destination.settings, subjectPrefix: prefix } }),
      );
      expect((await failureOf(elsewhere.send(batchOf(streamEvents(1))))).failure).toBe('pause');
    } finally {
      await nc.close();
    }
  });

  itOcsf('carries OCSF records (metadata.uid as Msg-Id), in order', async () => {
    const events = streamEvents(3, Date.parse('2026-12-07T14:00:00.000Z'));
    const before = await receiver.received();
    await sink.send(batchOf(events, 'ocsf'));
    const after = await receiver.received();
    expect(deliveryProblems([...before.map((e) => e.id), ...ids(events)], after)).toEqual([]);
    const ocsf = (await receiver.messages()).slice(-events.length);
    expect(ocsf.map((m) => m.msgId)).toEqual(ocsf.map((m) => (m.record.metadata as { uid: string }).uid));
    expect(ocsf[0].record.class_uid).toBe(6003);
  });

  it('close() drains the connection, is idempotent, and a closed sink sends nothing', async () => {
    const closing = create(specOf(receiver.destination('json')));
    const events = streamEvents(2, Date.parse('2026-12-07T15:00:00.000Z'));
    const before = (await receiver.messages()).length;
    await closing.send(batchOf(events));
    await closing.close();
    await closing.close();
    expect((await failureOf(closing.send(batchOf(streamEvents(1))))).failure).toBe('retry');
    expect((await receiver.messages()).length).toBe(before + events.length);
  });

  it('validate() names each bad field', () => {
    expect(natsKind.validate({}, {})).toEqual([expect.stringMatching(/^settings\.servers is required/)]);
    const problems = natsKind.validate(
      {
        servers: ['http://x:4222', 'nats://me:pw@x:4222'],
        subjectPrefix: 'audit.*',
        stream: 'a.b',
        timeoutMs: 0,
        tls: { caFile: 3 },
      },
      { user: 'u', token: 't' },
    );
    for (const field of [
      'settings.servers[0]',
      'settings.servers[1] must not carry credentials',
      'settings.subjectPrefix',
      'settings.stream',
      'settings.timeoutMs',
      'settings.tls.caFile',
      'secret: use one of',
      'secret.password is required',
    ])
      expect(problems.some((p) => p.startsWith(field))).toBe(true);
    expect(natsKind.hosts({ servers: ['nats://nats.internal:4222', 'tls://10.0.0.5:4443'] })).toEqual([
      'nats.internal',
      '10.0.0.5',
    ]);
  });
});

describe("NATS JetStream sink on the machine's nats-server", () => {
  it('delivers to a stream of its own there, in order', async () => {
    const receiver = await startNatsReceiver({ server: 'machine' });
    const sink = natsKind.create(specOf(receiver.destination('json')));
    try {
      const events = streamEvents(4);
      await sink.send(batchOf(events));
      expect(deliveryProblems(ids(events), await receiver.received())).toEqual([]);
      expect((await receiver.received()).length).toBe(events.length);
    } finally {
      await sink.close();
      await receiver.destroy();
    }
  });
});

describe('S3 sink (s3rver)', () => {
  let receiver: S3Receiver;
  const sinks: AuditSink[] = [];
  const create = (destination: ReceiverDestination) => {
    expect(s3Kind.validate(destination.settings, destination.secret)).toEqual([]);
    const created = s3Kind.create(specOf(destination));
    sinks.push(created);
    return created;
  };

  beforeAll(async () => {
    receiver = await startS3Receiver();
  });
  afterAll(async () => {
    for (const s of sinks) await s.close();
    await receiver?.destroy();
  });

  it('writes gzip NDJSON objects per organization and hour, Hive-style keys, every event once in chain order', async () => {
    const sink = create(receiver.destination('json'));
    const events = streamEvents(9); // 27 events from 10:58:00 to 11:06:40: two hours per organization
    await sink.send(batchOf(events));

    const objects = await receiver.objects();
    expect(objects).toHaveLength(ORGS.length * 2);
    const keyPattern =
      /^siem\/audit\/org=([^/]+)\/dt=2026-12-07\/hour=(10|11)\/(\d{20})-(\d{20})-[0-9a-f]{12}\.ndjson\.gz$/;
    for (const object of objects) {
      const [, org, hour, first, last] = keyPattern.exec(object.key) ?? [];
      expect(object.key).toMatch(keyPattern);
      expect(object.contentType).toBe('application/x-ndjson');
      expect(object.contentEncoding).toBe('gzip');
      const decoded = org === '__HIVE_DEFAULT_PARTITION__' ? null : decodeURIComponent(org);
      for (const record of object.records) {
        expect(record.organizationId).toBe(decoded);
        expect((record.occurredAt as string).slice(11, 13)).toBe(hour);
        expect((record.after as { email: string }).email).toBe(PII);
      }
      expect(Number(first)).toBe(Number(object.records[0].chainSeq));
      expect(Number(last)).toBe(Number(object.records[object.records.length - 1].chainSeq));
    }
    const received = await receiver.received();
    expect(deliveryProblems(ids(events), received)).toEqual([]);
    expect(received).toHaveLength(events.length);
  });

  it('sent again, the same batch overwrites its own objects: the same keys, nothing new', async () => {
    const sink = create(receiver.destination('json'));
    const batch = batchOf(streamEvents(3, Date.parse('2026-12-08T09:00:00.000Z')));
    const before = (await receiver.objects()).map((o) => o.key);
    await sink.send(batch);
    const once = await receiver.objects();
    expect(once.length).toBe(before.length + ORGS.length);
    await sink.send(batch);
    const twice = await receiver.objects();
    expect(twice.map((o) => o.key)).toEqual(once.map((o) => o.key));
    expect(twice).toEqual(once);
  });

  it('writes plain .ndjson without gzip', async () => {
    const destination = receiver.destination('json');
    const sink = create({ ...destination, settings: { ...destination.settings, gzip: false } });
    const events = streamEvents(1, Date.parse('2026-12-09T00:00:00.000Z'));
    await sink.send(batchOf(events));
    const plain = (await receiver.objects()).filter((o) => o.key.includes('dt=2026-12-09'));
    expect(plain).toHaveLength(ORGS.length);
    for (const object of plain) {
      expect(object.key).toMatch(/\.ndjson$/);
      expect(object.contentEncoding).toBeUndefined();
      expect(object.records).toHaveLength(1);
    }
  });

  it('fails with retry within its timeout while S3 is down, and the same batch goes through once it is back', async () => {
    const sink = create(receiver.destination('json'));
    const events = streamEvents(4, Date.parse('2026-12-10T10:00:00.000Z'));
    const batch = batchOf(events);
    const before = await receiver.received();
    await receiver.stop();
    try {
      const started = Date.now();
      const failure = await failureOf(sink.send(batch));
      expect(failure.failure).toBe('retry');
      expect(failure.message).toContain(new URL(receiver.endpoint).host);
      expect(Date.now() - started).toBeLessThan(8_000);
    } finally {
      await receiver.start();
    }
    await sink.send(batch);
    const after = await receiver.received();
    expect(deliveryProblems([...before.map((e) => e.id), ...ids(events)], after)).toEqual([]);
    expect(after.length).toBe(before.length + events.length);
  }, 30_000);

  it('pauses on a missing bucket and on refused credentials, never showing the secret', async () => {
    const destination = receiver.destination('json');
    const noBucket = await failureOf(
      create({ ...destination, settings: { ...destination.settings, bucket: 'no-such-bucket' } }).send(
        batchOf(streamEvents(1)),
      ),
    );
    expect(noBucket.failure).toBe('pause');
    expect(noBucket.message).toMatch(/NoSuchBucket/);

    // s3rver checks the key id (it does not verify v4 signatures).
    const wrong = { accessKeyId: 'NOT-S3RVER', secretAccessKey: 'not-the-secret-key' };
    const refused = await failureOf(create({ ...destination, secret: wrong }).send(batchOf(streamEvents(1))));
    expect(refused.failure).toBe('pause');
    expect(refused.message).not.toContain(wrong.secretAccessKey);
  });

  itOcsf('writes OCSF records, read back by metadata.uid in order', async () => {
    const sink = create(receiver.destination('ocsf'));
    const events = streamEvents(2, Date.parse('2026-12-11T10:00:00.000Z'));
    const before = await receiver.received();
    await sink.send(batchOf(events, 'ocsf'));
    const after = await receiver.received();
    expect(deliveryProblems([...before.map((e) => e.id), ...ids(events)], after)).toEqual([]);
    expect(after.length).toBe(before.length + events.length);
  });

  it('validate() names each bad field', () => {
    expect(s3Kind.validate({}, {})).toEqual([expect.stringMatching(/^settings\.bucket is required/)]);
    const problems = s3Kind.validate(
      { bucket: 'Bad_Bucket', endpoint: 'ftp://x', gzip: 'yes', region: 'EU WEST', timeoutMs: -1 },
      { accessKeyId: 'AKIA' },
    );
    for (const field of [
      'settings.bucket',
      'settings.endpoint',
      'settings.gzip',
      'settings.region',
      'settings.timeoutMs',
      'secret.secretAccessKey is required',
    ])
      expect(problems.some((p) => p.startsWith(field))).toBe(true);
  });
});
