import type { AuditEvent, FieldChange, JsonValue } from '../audit.types';
import { keyMatcher } from '../redaction';
import { encryptValue } from './personal-data.cipher';
import { ActiveSubjectKey, SubjectKeyRecord, SubjectKeyring } from './subject-keyring';

/** Where an event's client IP goes when personal data is protected: `ip` (an inet column) cannot hold ciphertext. */
export const IP_METADATA_KEY = '$ip';

/**
 * The default personal-data keys, key patterns like the redaction keys (`keyMatcher`: any depth, no case or
 * separators; `word` the whole key, `word*` anywhere in it, `~word` a whole word of it). A key about the
 * value rather than the value (`emailVerifiedAt`, `phoneVerified`, `isMobile`) is left readable.
 * - Contact: `email*`, `phone*`, `mobile*`, `fax*` (`customerEmail`, `contact_email`, `billingPhone`).
 * - Names: only keys that name a person. `name` itself (the resource's name: an account holder's), the
 *   parts of a person's name anywhere in a key (`firstName`, `billing_last_name`, `customerFullName`,
 *   `surname`), the person-role names (`contactName`, `customerName`, `cardHolderName`) and, as whole keys,
 *   `displayName`, `nickname`. A username identifies its person as surely as an email (and is often made of
 *   their name): `username*` is personal. Other `...Name` keys are not: `fileName`, `hostname`, `planName`,
 *   `resourceName`, `companyName`; add yours with `extraKeys`.
 * - Network: the client IP wherever it is copied: `~ip` (`ip`, `ipAddress`, `clientIp`, `remote_ip`,
 *   `x-real-ip`, not `zip`, `ship`, `tip`, `description`), `ipv4*`, `ipv6*`, `forwardedfor*`
 *   (`x-forwarded-for`), `remoteaddr*` (`remoteAddress`).
 */
export const DEFAULT_PERSONAL_KEYS = [
  'email*',
  'phone*',
  'mobile*',
  'fax*',
  'name',
  'firstname*',
  'middlename*',
  'lastname*',
  'fullname*',
  'givenname*',
  'familyname*',
  'maidenname*',
  'surname*',
  'contactname*',
  'customername*',
  'holdername*',
  'displayname',
  'nickname',
  'username*',
  '~ip',
  'ipv4*',
  'ipv6*',
  'forwardedfor*',
  'remoteaddr*',
];

/**
 * Whose data an event's states hold: the resource's subject `<resourceType>:<resourceId>` (an account's
 * email belongs to the account's holder), else the actor's. The client IP always belongs to the actor:
 * the actor id, or `anonymous`.
 */
export function resourceSubject(event: Pick<AuditEvent, 'resourceType' | 'resourceId'>): string | null {
  return event.resourceType && event.resourceId ? `${event.resourceType}:${event.resourceId}` : null;
}
export const actorSubject = (event: Pick<AuditEvent, 'actorId'>): string => event.actorId ?? 'anonymous';

export interface ProtectedEvent {
  event: AuditEvent;
  /** Keys used by the event and not yet known stored: they travel with it and are stored with it. */
  keys: SubjectKeyRecord[];
}

type Encrypt = (value: JsonValue) => JsonValue;

/**
 * A value's key in the token cache: a string as it is (most personal values are strings: no JSON text to
 * make), anything else its JSON text after a NUL, which no state string holds (safeSerialize removes them).
 */
const cacheKeyOf = (value: JsonValue): string =>
  typeof value === 'string' ? value : '\u0000' + JSON.stringify(value);

/** Per subject key: a subject has a handful of personal values, not thousands. */
const MAX_TOKENS_PER_KEY = 32;

/**
 * Encrypts an event's personal data with its subjects' keys before the event leaves the capture (buffer,
 * Redis stream, spool, COPY): the values of personal keys in before/after/metadata and in the diff, and
 * the client IP. Everything else stays readable: ids, actions, times, non-personal fields (see README,
 * "Personal data"). Runs after redaction and diffing (random IVs would otherwise make every personal
 * field look changed). Equal values of one subject get equal ciphertext while its key lives (a token cache:
 * see ActiveSubjectKey.tokens).
 */
export class PersonalDataProtector {
  private readonly matchesKey: (key: string) => boolean;
  private readonly verdicts = new Map<string, boolean>();

  constructor(
    private readonly keyring: SubjectKeyring,
    personalKeys: readonly string[],
  ) {
    this.matchesKey = keyMatcher(personalKeys);
  }

  private readonly isPersonal = (key: string): boolean => {
    let verdict = this.verdicts.get(key);
    if (verdict === undefined) {
      verdict = this.matchesKey(key);
      if (this.verdicts.size < 10_000) this.verdicts.set(key, verdict);
    }
    return verdict;
  };

  protect(event: AuditEvent): ProtectedEvent {
    const keys: SubjectKeyRecord[] = [];
    const encrypterFor = (subjectId: string): Encrypt => {
      let key: ActiveSubjectKey | undefined;
      return (value) => {
        if (!key) {
          key = this.keyring.keyFor(event.organizationId, subjectId);
          if (!this.keyring.isStored(key.record.id)) keys.push(key.record);
        }
        const text = cacheKeyOf(value);
        let token = key.tokens.get(text);
        if (token === undefined) {
          token = encryptValue(key.dataKey, key.ref, value);
          if (key.tokens.size >= MAX_TOKENS_PER_KEY) key.tokens.clear();
          key.tokens.set(text, token);
        }
        return token;
      };
    };
    const actor = encrypterFor(actorSubject(event));
    const subject = resourceSubject(event);
    const data = subject ? encrypterFor(subject) : actor;

    const before = this.protectJson(event.before, data);
    const after = this.protectJson(event.after, data);
    const changes = event.changes ? this.protectChanges(event.changes, data) : event.changes;
    let metadata = this.protectJson(event.metadata, data) as AuditEvent['metadata'];
    let ip = event.ip;
    if (ip !== null) {
      metadata = { ...metadata, [IP_METADATA_KEY]: actor(ip) };
      ip = null;
    }
    if (
      before === event.before &&
      after === event.after &&
      changes === event.changes &&
      metadata === event.metadata &&
      ip === event.ip
    ) {
      return { event, keys };
    }
    return { event: { ...event, before, after, changes, metadata, ip }, keys };
  }

  private protectChanges(changes: FieldChange[], encrypt: Encrypt): FieldChange[] {
    let out: FieldChange[] | undefined;
    changes.forEach((change, i) => {
      const whole = change.path.split('.').some(this.isPersonal);
      const next = (value: JsonValue | undefined): JsonValue | undefined => {
        if (value === undefined || value === null) return value;
        return whole ? encrypt(value) : this.protectJson(value, encrypt);
      };
      const before = next(change.before);
      const after = next(change.after);
      if (before !== change.before || after !== change.after) {
        out ??= changes.slice();
        out[i] = { ...change, before, after };
      }
    });
    return out ?? changes;
  }

  /** A copy with personal values encrypted, or the same value when it holds none. */
  private protectJson(value: JsonValue, encrypt: Encrypt): JsonValue {
    if (value === null || typeof value !== 'object') return value;
    if (Array.isArray(value)) {
      let out: JsonValue[] | undefined;
      for (let i = 0; i < value.length; i++) {
        const next = this.protectJson(value[i], encrypt);
        if (next !== value[i]) (out ??= value.slice())[i] = next;
      }
      return out ?? value;
    }
    let out: { [key: string]: JsonValue } | undefined;
    for (const key of Object.keys(value)) {
      const item = value[key];
      const next = item !== null && this.isPersonal(key) ? encrypt(item) : this.protectJson(item, encrypt);
      if (next !== item) (out ??= { ...value })[key] = next;
    }
    return out ?? value;
  }
}
