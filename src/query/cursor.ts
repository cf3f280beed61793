import { createHmac, timingSafeEqual } from 'node:crypto';

export interface CursorPosition {
  /** occurred_at as Postgres text (microsecond precision kept). */
  occurredAt: string;
  id: string;
}

// What a decoded position must look like before it is bound into SQL: Postgres' text of a timestamptz and
// a UUID. A cursor signed with a leaked or reused secret still cannot make the query fail.
const POSITION_TIME = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([+-]\d{2}(:\d{2}){0,2}|Z)?$/;
const POSITION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Opaque keyset cursors: the position plus an HMAC over it and the query's scope, so a forged cursor or
 * one taken from another tenant's (or another filter's) listing is rejected instead of trusted.
 */
export class CursorCodec {
  constructor(private readonly secret: string) {}

  encode(position: CursorPosition, scope: string): string {
    const body = Buffer.from(JSON.stringify([position.occurredAt, position.id])).toString('base64url');
    return `${body}.${this.sign(body, scope)}`;
  }

  /** The position, or null when the cursor is malformed, forged or from another scope. */
  decode(cursor: string, scope: string): CursorPosition | null {
    const [body, signature, extra] = cursor.split('.');
    if (!body || !signature || extra !== undefined) return null;
    const expected = Buffer.from(this.sign(body, scope));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null;
    try {
      const [occurredAt, id] = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as unknown[];
      return typeof occurredAt === 'string' &&
        typeof id === 'string' &&
        POSITION_TIME.test(occurredAt) &&
        POSITION_ID.test(id)
        ? { occurredAt, id }
        : null;
    } catch {
      return null;
    }
  }

  private sign(body: string, scope: string): string {
    return createHmac('sha256', this.secret)
      .update(`cursor:v1:${scope}:${body}`)
      .digest('base64url')
      .slice(0, 32);
  }
}
