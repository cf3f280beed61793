import { KeyObject } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { pipeline } from 'node:stream/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkLocalParquetFiles, decompressor, filesDigest, parquetLines } from '../archive';
import { ArchiveManifest, parseManifest } from '../archive';
import { Sha256Meter } from '../archive';
import { escapeCopyText } from '../audit';
import { eventHash } from '../audit';
import { jsonbText } from '../audit';
import { orgKeyOf, SealLeaf } from '../audit';
import { ArchiveIntegritySection } from './archive-section';
import { BrokenLink, ChainReport, ChainVerifier, StoredSeal } from './chain-verifier';
import { VerifyReport } from './database-verifier';
import { manifestSignatureProblem } from './manifest-signature';

type Row = Record<string, unknown>;
const NULL = '\\N';
const text = (v: unknown) => (v === null || v === undefined ? null : String(v));
const copyText = (v: unknown) => (v === null || v === undefined ? NULL : escapeCopyText(String(v)));
const copyJson = (v: unknown) =>
  v === null || v === undefined ? NULL : jsonbText(v).replaceAll('\\', '\\\\');
const copyInt = (v: unknown) => (v === null || v === undefined ? NULL : String(v));

/** `2026-03-01T12:34:56.789123+00:00` (Postgres' JSON of a timestamptz) as microseconds since the epoch. */
export function timestampMicros(value: string): bigint {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?(Z|[+-]\d\d(?::?\d\d)?)$/.exec(value);
  if (!m) throw new Error(`not a timestamp: ${value}`);
  const offset = m[3] === 'Z' ? 'Z' : m[3].length === 3 ? `${m[3]}:00` : m[3];
  const seconds = BigInt(Date.parse(`${m[1]}${offset}`));
  return seconds * 1000n + BigInt((m[2] ?? '').padEnd(6, '0'));
}

/**
 * The hash of one archived row (values by column name, as Postgres renders them in JSON): its canonical
 * COPY text line rebuilt from the parsed values (event-hash.ts).
 */
export function rowHash(row: Row): Buffer {
  // prettier-ignore
  const rest =
    '\t' + copyText(row.organization_id) + '\t' + copyText(row.actor_id) + '\t' + copyText(row.actor_type) +
    '\t' + copyText(row.action) + '\t' + copyText(row.event_type) + '\t' + copyText(row.resource_type) +
    '\t' + copyText(row.resource_id) + '\t' + copyJson(row.before) + '\t' + copyJson(row.after) +
    '\t' + copyJson(row.changes) + '\t' + copyText(row.status) + '\t' + copyInt(row.status_code) +
    '\t' + copyText(row.error_message) + '\t' + copyText(row.severity) + '\t' + copyText(row.request_id) +
    '\t' + copyText(row.ip) + '\t' + copyText(row.user_agent) + '\t' + copyText(row.route) +
    '\t' + copyText(row.method) + '\t' + copyInt(row.duration_ms) + '\t' + copyJson(row.metadata);
  return eventHash(String(row.id), timestampMicros(String(row.occurred_at)), rest);
}

const bytes = (hex: unknown) => Buffer.from(String(hex ?? ''), 'hex');
const byteaHex = (v: unknown) =>
  typeof v === 'string' && v.startsWith('\\x') ? Buffer.from(v.slice(2), 'hex') : null;

function verifierFor(
  chain: ArchiveIntegritySection['chains'][number] | undefined,
  orgKey: string,
  keys: Map<string, KeyObject>,
) {
  const seals: StoredSeal[] = (chain?.seals ?? []).map((s) => ({
    orgKey,
    seq: String(s.seq),
    batchId: String(s.batchId),
    eventCount: Number(s.eventCount),
    firstAtMicros: String(s.firstAtMicros),
    lastAtMicros: String(s.lastAtMicros),
    merkleRoot: bytes(s.merkleRoot),
    prevHash: bytes(s.prevHash),
    sealHash: bytes(s.sealHash),
  }));
  const outside = new Map<string, SealLeaf[]>();
  for (const s of chain?.seals ?? [])
    outside.set(
      String(s.batchId),
      (s.outsideLeaves ?? []).map(([id, hash]) => ({ id, hash: bytes(hash) })),
    );
  const cp = chain?.checkpoint;
  return new ChainVerifier({
    orgKey,
    fromMicros: null,
    toMicros: null,
    seals,
    head: null,
    pendingBatches: new Set(),
    checkpoints: cp
      ? [
          {
            id: String(cp.id),
            orgKey,
            seq: String(cp.seq),
            sealHash: bytes(cp.sealHash),
            signedAt: String(cp.signedAt),
            keyId: String(cp.keyId),
            signature: Buffer.from(String(cp.signature), 'base64'),
          },
        ]
      : [],
    publicKeys: keys,
    eventBatches: new Set((chain?.seals ?? []).filter((s) => s.covers).map((s) => String(s.batchId))),
    outsideLeaves: outside,
    segment: true,
  });
}

/** What verify-archive reports: the chains' report, plus the archive and its data file as read. */
export interface ArchiveVerifyReport extends VerifyReport {
  archiveId: string | null;
  file: { rows: number; bytes: number; sha256: string } | null;
}

/**
 * Verifies a cold archive offline, exactly as the archive job stored it: its manifest (text) and data file
 * (one JSON array per line in the manifest's column order, any row order, gzip, zstd or brotli per the
 * manifest), with the public key(s) only. Checked: the manifest's Ed25519 signature (so every field of
 * it: range, row count, columns, checksum, integrity section); the data file's bytes against the
 * manifest's SHA-256 and size, and its row count; every event's hash and that it lies in the archived
 * range; every covered batch's Merkle root (with the leaves kept outside); every link from the first
 * covering seal to the checkpoint; the checkpoint's signature. A chain without checkpoint fails.
 */
export async function verifyArchive(
  dataPath: string,
  manifestText: string,
  publicKeys: Map<string, KeyObject>,
): Promise<ArchiveVerifyReport> {
  let manifest: ArchiveManifest;
  try {
    manifest = parseManifest(manifestText);
  } catch (error) {
    return failed(null, { kind: 'manifest', id: '', reason: (error as Error).message });
  }
  const section = manifest.integrity as unknown as ArchiveIntegritySection | undefined;
  if (!section || !Array.isArray(section.chains))
    return failed(manifest, {
      kind: 'manifest',
      id: manifest.archiveId,
      reason: 'the manifest has no integrity section',
    });
  const manifestProblem =
    manifestSignatureProblem(manifest, publicKeys) ??
    (section.from !== manifest.source.from || section.to !== manifest.source.to
      ? 'the integrity section covers another range than the archive'
      : null);

  const rows = new ArchiveRows(manifest, section, publicKeys);
  if (manifest.parquet) return verifyParquet(dataPath, manifest, rows, manifestProblem);
  const [file] = manifest.files;
  const sha = new Sha256Meter();
  let readError: BrokenLink | null = null;
  try {
    await pipeline(createReadStream(dataPath), sha, decompressor(file.compression), (source) =>
      rows.consume(source as AsyncIterable<Buffer>),
    );
  } catch (error) {
    const reason = `the ${file.compression} data cannot be read: ${(error as Error).message}`;
    readError = { kind: 'file', id: file.key, reason };
  }
  const chains = rows.finish();
  let checksum: string | null = null;
  if (!readError && (sha.sha256 !== file.sha256 || sha.bytes !== file.bytes))
    checksum = `the data file (${sha.bytes} bytes, SHA-256 ${sha.sha256}) is not the one the manifest describes`;
  else if (!readError && rows.lines !== manifest.rowCount)
    checksum = `the data file has ${rows.lines} rows, the manifest ${manifest.rowCount}`;

  const broken = chains.find((r) => r.firstBroken);
  const firstBroken =
    (manifestProblem && { kind: 'manifest' as const, id: manifest.archiveId, reason: manifestProblem }) ??
    readError ??
    rows.firstBroken ??
    (broken ? broken.firstBroken : null) ??
    (checksum && { kind: 'file' as const, id: file.key, reason: checksum });
  const organizationId =
    firstBroken && broken && firstBroken === broken.firstBroken ? broken.organizationId : null;
  return {
    ok: !firstBroken,
    archiveId: manifest.archiveId,
    from: manifest.source.from,
    to: manifest.source.to,
    checkedEvents: chains.reduce((n, r) => n + r.checkedEvents, 0),
    firstBroken: firstBroken ? { ...firstBroken, organizationId } : null,
    chains,
    file: readError ? null : { rows: rows.lines, bytes: sha.bytes, sha256: sha.sha256 },
  };
}

/**
 * A Parquet archive (`dataPath`: a copy of its folder, the manifest's `parquet.root`): every file's bytes
 * against the manifest's SHA-256 and size first, then its rows, rendered by DuckDB as the NDJSON archive's
 * lines, through the same checks. `file` reports the whole folder: rows, bytes, and the files' digest.
 */
async function verifyParquet(
  dataPath: string,
  manifest: ArchiveManifest,
  rows: ArchiveRows,
  manifestProblem: string | null,
): Promise<ArchiveVerifyReport> {
  let readError: BrokenLink | null = null;
  const temp = await mkdtemp(join(tmpdir(), 'audit-verify-parquet-'));
  try {
    const paths = await checkLocalParquetFiles(dataPath, manifest);
    await rows.consume(parquetLines(paths, manifest.columns, temp));
  } catch (error) {
    readError = {
      kind: 'file',
      id: (error as { key?: string }).key ?? dataPath,
      reason: (error as Error).message,
    };
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
  const chains = rows.finish();
  const count =
    !readError && rows.lines !== manifest.rowCount
      ? `the Parquet files have ${rows.lines} rows, the manifest ${manifest.rowCount}`
      : null;
  const broken = chains.find((r) => r.firstBroken);
  const firstBroken =
    (manifestProblem && { kind: 'manifest' as const, id: manifest.archiveId, reason: manifestProblem }) ??
    readError ??
    rows.firstBroken ??
    (broken ? broken.firstBroken : null) ??
    (count && { kind: 'file' as const, id: manifest.parquet!.root, reason: count });
  const organizationId =
    firstBroken && broken && firstBroken === broken.firstBroken ? broken.organizationId : null;
  const bytes = manifest.files.reduce((sum, file) => sum + file.bytes, 0);
  return {
    ok: !firstBroken,
    archiveId: manifest.archiveId,
    from: manifest.source.from,
    to: manifest.source.to,
    checkedEvents: chains.reduce((n, r) => n + r.checkedEvents, 0),
    firstBroken: firstBroken ? { ...firstBroken, organizationId } : null,
    chains,
    file: readError ? null : { rows: rows.lines, bytes, sha256: filesDigest(manifest.files) },
  };
}

function failed(manifest: ArchiveManifest | null, broken: BrokenLink): ArchiveVerifyReport {
  return {
    ok: false,
    archiveId: manifest?.archiveId ?? null,
    from: manifest?.source.from ?? null,
    to: manifest?.source.to ?? null,
    checkedEvents: 0,
    firstBroken: { ...broken, organizationId: null },
    chains: [],
    file: null,
  };
}

/** Feeds an archive's rows, line by line, to one chain verifier per organization. */
class ArchiveRows {
  lines = 0;
  firstBroken: BrokenLink | null = null;
  private readonly columns: string[];
  private readonly fromMicros: bigint;
  private readonly toMicros: bigint;
  private readonly verifiers = new Map<string, ChainVerifier>();

  constructor(
    manifest: ArchiveManifest,
    private readonly section: ArchiveIntegritySection,
    private readonly publicKeys: Map<string, KeyObject>,
  ) {
    this.columns = manifest.columns.map((c) => c.name);
    this.fromMicros = BigInt(Date.parse(manifest.source.from)) * 1000n;
    this.toMicros = BigInt(Date.parse(manifest.source.to)) * 1000n;
    for (const chain of section.chains) this.verifier(chain.orgKey);
  }

  async consume(source: AsyncIterable<Buffer>): Promise<void> {
    const decoder = new StringDecoder('utf8');
    let rest = '';
    for await (const chunk of source) {
      const lines = (rest + decoder.write(chunk)).split('\n');
      rest = lines.pop()!;
      for (const line of lines) this.line(line);
    }
    rest += decoder.end();
    if (rest !== '') this.line(rest);
  }

  finish(): ChainReport[] {
    const reports = [...this.verifiers.values()].map((v) => v.finish());
    for (const report of reports) {
      if (!report.checkpoint && report.ok && report.checkedSeals > 0) {
        report.ok = false;
        report.problems++;
        report.firstBroken = { kind: 'checkpoint', id: '', reason: 'no signed checkpoint covers this chain' };
      }
    }
    return reports;
  }

  private line(line: string): void {
    const at = ++this.lines;
    const row = this.parse(line);
    if (!row) return this.break(`line ${at}`, `line ${at} is not a row of the manifest's columns`);
    const id = String(row.id);
    let occurredAtMicros: bigint;
    try {
      occurredAtMicros = timestampMicros(String(row.occurred_at));
    } catch {
      return this.break(id, 'occurred_at is not a timestamp');
    }
    if (occurredAtMicros < this.fromMicros || occurredAtMicros >= this.toMicros)
      this.break(id, 'event lies outside the archived range');
    this.verifier(orgKeyOf(text(row.organization_id))).addEvent({
      id,
      occurredAtMicros,
      batchId: text(row.batch_id),
      storedHash: byteaHex(row.event_hash),
      computedHash: rowHash(row),
    });
  }

  /** The line's values by column name; null when it is not a JSON array of the manifest's width. */
  private parse(line: string): Row | null {
    let values: unknown;
    try {
      values = JSON.parse(line);
    } catch {
      return null;
    }
    if (!Array.isArray(values) || values.length !== this.columns.length) return null;
    const row: Row = {};
    this.columns.forEach((name, i) => (row[name] = values[i]));
    return row;
  }

  private break(id: string, reason: string): void {
    this.firstBroken ??= { kind: 'event', id, reason };
  }

  private verifier(orgKey: string): ChainVerifier {
    let verifier = this.verifiers.get(orgKey);
    if (!verifier) {
      const chain = this.section.chains.find((c) => c.orgKey === orgKey);
      this.verifiers.set(orgKey, (verifier = verifierFor(chain, orgKey, this.publicKeys)));
    }
    return verifier;
  }
}
