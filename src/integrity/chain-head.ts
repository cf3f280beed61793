import { KeyObject, sign, verify } from 'node:crypto';
import type { BrokenLink, StoredSeal } from './chain.types';

/**
 * A signed statement, kept in the archive store (outside the database), that an organization's chain had
 * reached seal `seq` with `sealHash`, whose newest event is at `lastEventAt`. Published about every
 * AUDIT_HEAD_INTERVAL_MS when the head moved: a chain that ends before it in the database lost its tail.
 */
export interface SignedHead {
  orgKey: string;
  seq: string;
  sealHash: Buffer;
  /** ISO 8601 (ms): time of the newest event of seal `seq`. */
  lastEventAt: string;
  signedAt: string;
  keyId: string;
  signature: Buffer;
}

/**
 * The organizations that have a published head, so that a chain deleted whole is still looked for. Not
 * signed: it only says where to look; each head carries its own signature.
 */
export interface HeadIndex {
  orgKeys: string[];
  updatedAt: string;
}

/** What verification found in the store for one organization: a head, nothing yet, or a failure to read it. */
export type ExternalHead = { head: SignedHead } | { head: null } | { error: string };

/**
 * Where the verifier gets the published heads: `orgKeys` undefined, every organization of the index.
 * `indexError`: the index could not be read (then only `orgKeys`' heads, if given, were looked for).
 */
export interface ExternalHeadSource {
  load(orgKeys?: string[]): Promise<{ heads: Map<string, ExternalHead>; indexError?: string }>;
}

/** The exact bytes a head's signature covers (version 1; a prefix of its own, never a checkpoint's). */
export function headStatement(h: Omit<SignedHead, 'signature'>): Buffer {
  const body = JSON.stringify([
    h.orgKey,
    h.seq,
    h.sealHash.toString('hex'),
    h.lastEventAt,
    h.signedAt,
    h.keyId,
  ]);
  return Buffer.from(`audit-chain-head:v1\n${body}`);
}

export const signStatement = (statement: Buffer, privateKey: KeyObject): Buffer =>
  sign(null, statement, privateKey);

export const statementValid = (statement: Buffer, signature: Buffer, key: KeyObject | undefined): boolean =>
  key !== undefined && verify(null, statement, key, signature);

export function encodeHead(h: SignedHead): string {
  return JSON.stringify({
    version: 1,
    organizationId: h.orgKey,
    seq: h.seq,
    sealHash: h.sealHash.toString('hex'),
    lastEventAt: h.lastEventAt,
    signedAt: h.signedAt,
    keyId: h.keyId,
    signature: h.signature.toString('base64'),
  });
}

const text = (value: unknown, field: string): string => {
  if (typeof value !== 'string') throw new Error(`chain head: ${field} is missing`);
  return value;
};

export function decodeHead(json: string): SignedHead {
  const o = JSON.parse(json) as Record<string, unknown>;
  if (o.version !== 1) throw new Error(`chain head: unknown version ${String(o.version)}`);
  return {
    orgKey: text(o.organizationId, 'organizationId'),
    seq: text(o.seq, 'seq'),
    sealHash: Buffer.from(text(o.sealHash, 'sealHash'), 'hex'),
    lastEventAt: text(o.lastEventAt, 'lastEventAt'),
    signedAt: text(o.signedAt, 'signedAt'),
    keyId: text(o.keyId, 'keyId'),
    signature: Buffer.from(text(o.signature, 'signature'), 'base64'),
  };
}

export function decodeIndex(json: string): HeadIndex {
  const o = JSON.parse(json) as Record<string, unknown>;
  if (o.version !== 1 || !Array.isArray(o.orgKeys)) throw new Error('chain head index: unknown format');
  return { orgKeys: o.orgKeys.map((k) => text(k, 'orgKeys[]')), updatedAt: text(o.updatedAt, 'updatedAt') };
}

/** The chain report's view of the published head. */
export interface ExternalHeadReport {
  seq: string;
  lastEventAt: string;
  signedAt: string;
  keyId: string;
  /** Seals the published head proves and the database lacks (the tail deleted), else null. */
  missing: { fromSeq: string; toSeq: string; afterEventAt: string | null; untilEventAt: string } | null;
}

const isoOfMicros = (micros: string) => new Date(Number(BigInt(micros) / 1000n)).toISOString();

/**
 * Compares an organization's chain in the database with its published head: the chain must reach the
 * head's seal and hold exactly that seal there (it may have grown since).
 */
export function checkExternalHead(
  orgKey: string,
  seals: StoredSeal[],
  external: ExternalHead | undefined,
  publicKeys: Map<string, KeyObject>,
): { broken: BrokenLink | null; report: ExternalHeadReport | null } {
  if (!external || ('head' in external && external.head === null)) return { broken: null, report: null };
  const fail = (id: string, reason: string) => ({ kind: 'head' as const, id, reason });
  if ('error' in external)
    return {
      broken: fail(orgKey, `the published chain head could not be read: ${external.error}`),
      report: null,
    };
  const head = external.head!;
  const id = `${orgKey}#${head.seq}`;
  const report: ExternalHeadReport = {
    seq: head.seq,
    lastEventAt: head.lastEventAt,
    signedAt: head.signedAt,
    keyId: head.keyId,
    missing: null,
  };
  if (head.orgKey !== orgKey)
    return { broken: fail(id, `the published head is for organization "${head.orgKey}"`), report };
  if (!statementValid(headStatement(head), head.signature, publicKeys.get(head.keyId)))
    return {
      broken: fail(
        id,
        publicKeys.has(head.keyId)
          ? 'signature of the published head is not valid'
          : `published head signed with unknown key ${head.keyId}`,
      ),
      report,
    };
  const last = seals.length ? seals[seals.length - 1] : null;
  if (!last || BigInt(last.seq) < BigInt(head.seq)) {
    const fromSeq = String((last ? BigInt(last.seq) : 0n) + 1n);
    report.missing = {
      fromSeq,
      toSeq: head.seq,
      afterEventAt: last ? isoOfMicros(last.lastAtMicros) : null,
      untilEventAt: head.lastEventAt,
    };
    const where = last ? `the chain ends at seal ${last.seq}` : 'the chain has no seal';
    return {
      broken: fail(
        id,
        `${where}, the head published at ${head.signedAt} records seal ${head.seq}: seals ${fromSeq}..${head.seq} ` +
          `(events ${last ? `after ${report.missing.afterEventAt}` : 'from the start'} up to ${head.lastEventAt}) are missing`,
      ),
      report,
    };
  }
  // Seals are numbered from 1 without gaps (a gap is reported by the seal checks): look there first.
  const at = seals[Number(BigInt(head.seq) - BigInt(seals[0].seq))];
  const seal = at?.seq === head.seq ? at : seals.find((s) => s.seq === head.seq);
  if (!seal || !seal.sealHash.equals(head.sealHash))
    return {
      broken: fail(
        id,
        `seal ${head.seq} differs from the head published at ${head.signedAt} (tail rewritten)`,
      ),
      report,
    };
  return { broken: null, report };
}
