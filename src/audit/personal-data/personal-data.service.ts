import { Inject, Injectable, Logger } from '@nestjs/common';
import { Transform, TransformCallback } from 'node:stream';
import { Pool } from 'pg';
import { AUDIT_OPTIONS, AUDIT_PG_POOL } from '../audit.constants';
import type { ResolvedAuditOptions } from '../audit-options';
import type { AuditEvent, JsonValue } from '../audit.types';
import {
  decryptValue,
  ERASED,
  kekIdOf,
  refToUuid,
  TOKEN,
  TOKEN_PREFIX,
  TOKENS_IN_TEXT,
  UNAVAILABLE,
  unwrapKey,
} from './personal-data.cipher';
import { PersonalDataProtector, ProtectedEvent } from './personal-data.protector';
import { ErasureResult, SubjectKeyRepository } from './subject-key.repository';
import { SubjectKeyring } from './subject-keyring';

/**
 * The fields of a read event that can hold personal data (the API's event shape; the events repository
 * returns an IP stored encrypted as `ip`).
 */
export interface RevealableEvent {
  ip: string | null;
  before: unknown;
  after: unknown;
  changes: unknown;
  metadata: unknown;
}

/** A data key, or why there is none: erased (or never stored), or not openable with this configuration. */
type KeyState = Buffer | typeof ERASED | typeof UNAVAILABLE;

const MAX_EXPORT_KEYS = 100_000;

/**
 * Personal data, both ways: `protect` encrypts an event's personal values with per-subject keys before it
 * leaves the capture; `reveal` / `revealStream` decrypt what is read (the admin API, exports), showing
 * `[erased]` where the subject's keys were destroyed; `erase` destroys them (crypto-shredding: the events
 * and their hashes stay as stored, verification still passes, no one can read the values any more).
 */
@Injectable()
export class PersonalDataService {
  private readonly logger = new Logger(PersonalDataService.name);
  private readonly keyring: SubjectKeyring | null;
  private readonly protector: PersonalDataProtector | null;
  private readonly repository: SubjectKeyRepository;
  private readonly kek: Buffer | null;
  private readonly kekId: string | null;
  private warnedKek = false;

  constructor(@Inject(AUDIT_OPTIONS) options: ResolvedAuditOptions, @Inject(AUDIT_PG_POOL) pool: Pool) {
    const personal = options.personalData;
    this.kek = personal?.encryptionKey ?? null;
    this.kekId = this.kek ? kekIdOf(this.kek) : null;
    this.keyring = personal ? new SubjectKeyring(personal.encryptionKey, personal.keyTtlMs) : null;
    this.protector = personal && this.keyring ? new PersonalDataProtector(this.keyring, personal.keys) : null;
    this.repository = new SubjectKeyRepository(pool);
  }

  get enabled(): boolean {
    return this.protector !== null;
  }

  /** The event with its personal values encrypted, and the keys to store with it (the event itself when off). */
  protect(event: AuditEvent): ProtectedEvent {
    return this.protector ? this.protector.protect(event) : { event, keys: [] };
  }

  /** Called once a batch carrying these keys has committed: later events need not carry them. */
  markStored(ids: Iterable<string>): void {
    this.keyring?.markStored(ids);
  }

  /** Copies of the events with personal values (the client IP included) decrypted, or `[erased]`. */
  async reveal<T extends RevealableEvent>(events: readonly T[]): Promise<T[]> {
    const refs = new Set<string>();
    for (const event of events) {
      for (const value of [event.ip, event.before, event.after, event.changes, event.metadata]) {
        collectRefs(value, refs);
      }
    }
    if (refs.size === 0) return [...events];
    const keys = await this.keysFor(refs);
    const open = (value: unknown) => this.openJson(value as JsonValue, keys);
    return events.map((event) => ({
      ...event,
      ip: open(event.ip) as string | null,
      before: open(event.before),
      after: open(event.after),
      changes: open(event.changes),
      metadata: open(event.metadata),
    }));
  }

  /**
   * A transform for an export's bytes (NDJSON or CSV from Postgres): every token is replaced by its value,
   * or `[erased]`. Lines without a token pass through untouched (one `indexOf` per chunk); keys are fetched
   * once per export, in one query per chunk that needs new ones.
   */
  revealStream(format: 'ndjson' | 'csv'): Transform {
    return new RevealTransform(format, (refs) => this.keysFor(refs));
  }

  /**
   * Destroys every key of the subject in the organization. Afterwards its personal values read as
   * `[erased]` everywhere; the events themselves are untouched, so integrity verification still passes.
   */
  async erase(
    organizationId: string | null,
    subjectId: string,
    erasedBy: string | null,
  ): Promise<ErasureResult> {
    const result = await this.repository.erase(organizationId, subjectId, erasedBy);
    this.keyring?.forget(organizationId, subjectId);
    await this.repository.vacuum();
    return result;
  }

  private async keysFor(refs: Iterable<string>): Promise<Map<string, KeyState>> {
    const byId = new Map<string, string>();
    for (const ref of refs) byId.set(refToUuid(ref), ref);
    const keys = new Map<string, KeyState>();
    for (const ref of byId.values()) keys.set(ref, ERASED); // no row: erased before it was ever stored
    if (byId.size === 0) return keys;
    for (const row of await this.repository.find([...byId.keys()])) {
      const ref = byId.get(row.id)!;
      if (!row.wrapped_key) continue;
      if (!this.kek || row.kek_id !== this.kekId) {
        this.warnKek(row.kek_id);
        keys.set(ref, UNAVAILABLE);
        continue;
      }
      try {
        keys.set(ref, unwrapKey(this.kek, row.wrapped_key, row.id, row.organization_id, row.subject_id));
      } catch {
        keys.set(ref, UNAVAILABLE);
      }
    }
    return keys;
  }

  private openJson(value: JsonValue, keys: Map<string, KeyState>): JsonValue {
    if (typeof value === 'string') return value.startsWith(TOKEN_PREFIX) ? openToken(value, keys) : value;
    if (value === null || typeof value !== 'object') return value;
    if (Array.isArray(value)) return value.map((item) => this.openJson(item, keys));
    const out: { [key: string]: JsonValue } = {};
    for (const key of Object.keys(value)) out[key] = this.openJson(value[key], keys);
    return out;
  }

  private warnKek(kekId: string): void {
    if (this.warnedKek) return;
    this.warnedKek = true;
    this.logger.warn(
      `Personal data wrapped with key-encryption key ${kekId} cannot be read: ` +
        (this.kekId
          ? `the configured key is ${this.kekId}`
          : 'no key is configured (AUDIT_PERSONAL_DATA_KEY)'),
    );
  }
}

function collectRefs(value: unknown, refs: Set<string>): void {
  if (typeof value === 'string') {
    if (value.startsWith(TOKEN_PREFIX)) {
      const match = TOKEN.exec(value);
      if (match) refs.add(match[1]);
    }
  } else if (Array.isArray(value)) {
    for (const item of value) collectRefs(item, refs);
  } else if (value && typeof value === 'object') {
    for (const item of Object.values(value)) collectRefs(item, refs);
  }
}

function openToken(token: string, keys: Map<string, KeyState>): JsonValue {
  const match = TOKEN.exec(token);
  if (!match) return token;
  const key = keys.get(match[1]);
  if (key === undefined || typeof key === 'string') return key ?? ERASED;
  try {
    return decryptValue(key, match[2]);
  } catch {
    return UNAVAILABLE;
  }
}

const MARKER = Buffer.from(TOKEN_PREFIX);
const NEWLINE = 10;

/**
 * Replaces tokens in an export's lines. A token never spans a newline, so the stream is cut at the last
 * newline of each chunk (the rest waits for the next chunk). In NDJSON a token is a JSON string
 * (`"pii:v1:..."`): replaced by the value's JSON. In CSV it is inside a quoted JSON cell (`""pii:v1:...""`,
 * replaced by the value's JSON with quotes doubled) or a bare cell (the IP: replaced by the text).
 */
export class RevealTransform extends Transform {
  private tail: Buffer = Buffer.alloc(0);
  private readonly keys = new Map<string, KeyState>();
  private readonly pattern: RegExp;

  constructor(
    private readonly format: 'ndjson' | 'csv',
    private readonly fetch: (refs: Iterable<string>) => Promise<Map<string, KeyState>>,
  ) {
    super();
    const body = TOKENS_IN_TEXT.source;
    this.pattern = format === 'ndjson' ? new RegExp(`"${body}"`, 'g') : new RegExp(`(""|)${body}\\1`, 'g');
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    const last = chunk.lastIndexOf(NEWLINE);
    if (last === -1) {
      this.tail = Buffer.concat([this.tail, chunk]);
      done();
      return;
    }
    const lines = this.tail.length
      ? Buffer.concat([this.tail, chunk.subarray(0, last + 1)])
      : chunk.subarray(0, last + 1);
    this.tail = Buffer.from(chunk.subarray(last + 1));
    this.emitLines(lines).then(() => done(), done);
  }

  override _flush(done: TransformCallback): void {
    if (this.tail.length === 0) return done();
    this.emitLines(this.tail).then(() => done(), done);
  }

  private async emitLines(lines: Buffer): Promise<void> {
    if (lines.indexOf(MARKER) === -1) {
      this.push(lines);
      return;
    }
    const text = lines.toString('utf8');
    const missing = new Set<string>();
    for (const match of text.matchAll(this.pattern)) {
      const ref = this.format === 'ndjson' ? match[1] : match[2];
      if (!this.keys.has(ref)) missing.add(ref);
    }
    if (missing.size > 0) {
      if (this.keys.size + missing.size > MAX_EXPORT_KEYS) this.keys.clear();
      for (const [ref, key] of await this.fetch(missing)) this.keys.set(ref, key);
    }
    this.push(
      text.replace(this.pattern, (...groups: string[]) => {
        const [quote, ref, payload] =
          this.format === 'ndjson' ? ['', groups[1], groups[2]] : groups.slice(1, 4);
        const value = openToken(`${TOKEN_PREFIX}${ref}:${payload}`, this.keys);
        if (this.format === 'ndjson') return JSON.stringify(value);
        if (quote) return JSON.stringify(value).replaceAll('"', '""');
        return typeof value === 'string' ? value : JSON.stringify(value);
      }),
    );
  }
}
