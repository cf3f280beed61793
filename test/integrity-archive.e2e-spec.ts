import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { brotliCompressSync, gunzipSync, gzipSync } from 'node:zlib';
import { compress as zstdCompress } from '@mongodb-js/zstd';
import { createHash } from 'node:crypto';
import { INestApplication } from '@nestjs/common';
import { ArchiveService } from '../src/archive/archive.service';
import { ArchiveManifest } from '../src/archive/archive-manifest';
import { Clock } from '../src/common/clock/clock';
import { parsePublicKey } from '../src/common/crypto/ed25519-keys';
import { ArchiveIntegritySection } from '../src/integrity/archive-section';
import { verifyArchive } from '../src/integrity/archive-verifier';
import { keyIdOf } from '../src/integrity/checkpoint-statement';
import { CheckpointSigner } from '../src/integrity/checkpoint-signer';
import { IntegrityService } from '../src/integrity/integrity.service';
import { maintainNow, monthStart, partitionName, recordMonths } from './support/lifecycle';
import { waitForMaintenanceIdle } from './support/maintenance';
import { startTestApp } from './support/test-app';
import { createTestDatabase, TestDatabase } from './support/test-db';

const CLI_JS = join(__dirname, '..', 'dist', 'src', 'cli', 'integrity.cli.js');
const DAY_MS = 86_400_000;
const PER_MONTH = 10;

type Manifest = ArchiveManifest & { integrity: ArchiveIntegritySection };

/**
 * A real cold archive (written by the archive job, rows captured by the real writer for two organizations,
 * batches across the month boundary) verified offline with its file, its manifest and the public key.
 */
describe('cold archives verify offline (npm run integrity -- verify-archive)', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let dir: string;
  let work: string;
  let dataFile: string;
  let manifestText: string;
  let keyFile: string;
  const keys = () => {
    const key = parsePublicKey(readFileSync(keyFile, 'utf8'));
    return new Map([[keyIdOf(key), key]]);
  };
  const manifest = () => JSON.parse(manifestText) as Manifest;
  const rowsText = () => gunzipSync(readFileSync(dataFile)).toString('utf8');
  const write = (name: string, content: Buffer | string) => {
    const path = join(work, name);
    writeFileSync(path, content);
    return path;
  };
  const verify = (data: string, manifestBody = manifestText) => verifyArchive(data, manifestBody, keys());
  /** `GET /audit/integrity/verify` of every chain, over all time. */
  const verifyDatabase = () =>
    app
      .get(IntegrityService)
      .verify({ sub: 'root', org: null, roles: ['audit:admin', 'audit:read:all'] }, {});

  beforeAll(async () => {
    db = await createTestDatabase();
    dir = mkdtempSync(join(tmpdir(), 'audit-archive-int-'));
    work = mkdtempSync(join(tmpdir(), 'audit-archive-edit-'));
    app = await startTestApp(db.url, {
      ARCHIVE_URL: pathToFileURL(dir).href,
      ARCHIVE_HOT_DAYS: '1',
      ARCHIVE_WARM_DAYS: '20',
      AUDIT_BATCH_SIZE: '20',
      AUDIT_FLUSH_CONCURRENCY: '1',
    });
    await waitForMaintenanceIdle(db);
    // Per organization: 10 events in month -14, then 10 in month -13, in the same write batches.
    await recordMonths(app, -14, -13, PER_MONTH, 'org-a');
    await recordMonths(app, -14, -13, PER_MONTH, 'org-b');
    await maintainNow(app); // the back-dated months get their partitions
    // One day into month -12: month -14 ended 20+ days ago (cold), month -13 just ended (warm only).
    app.get(Clock).set(new Date(monthStart(-12).getTime() + DAY_MS));
    keyFile = write('audit-signing.pub', app.get(CheckpointSigner).describe()[0].publicKeyPem);
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  it('the archive job embeds the seals, checkpoint and a manifest signature; the archive verifies', async () => {
    const report = await app.get(ArchiveService).run();
    expect(report?.warmed).toEqual([partitionName(monthStart(-14)), partitionName(monthStart(-13))]);
    expect(report?.archived).toEqual([
      expect.objectContaining({ partition: partitionName(monthStart(-14)), rows: 2 * PER_MONTH }),
    ]);
    const [archive] = (await app.get(ArchiveService).list()).filter((a) => a.state === 'cold');
    dataFile = join(dir, archive.dataKey);
    manifestText = readFileSync(join(dir, archive.manifestKey), 'utf8');

    const { integrity } = manifest();
    expect(integrity.chains.map((c) => c.orgKey).sort()).toEqual(['org-a', 'org-b']);
    expect(integrity.chains.every((c) => c.checkpoint !== null)).toBe(true);
    // A batch crossed into month -13 (still warm, detached): its events there are kept as outside leaves.
    expect(integrity.chains.some((c) => c.seals.some((s) => s.outsideLeaves.length > 0))).toBe(true);
    expect(integrity.manifestSignature).toMatchObject({ keyId: app.get(CheckpointSigner).keyId });

    const result = await verify(dataFile);
    expect(result).toMatchObject({ ok: true, checkedEvents: 2 * PER_MONTH, firstBroken: null });
    // The database still verifies: month -13 (warm) in full, month -14's seals as links, and the batches
    // the two months share with the hashes kept of their month -14 events.
    expect(await verifyDatabase()).toMatchObject({
      ok: true,
      checkedEvents: 2 * PER_MONTH,
      firstBroken: null,
    });
    expect(result.file).toMatchObject({ rows: 2 * PER_MONTH, sha256: manifest().files[0].sha256 });
    // Indentation does not matter: the signature covers the manifest's canonical form.
    expect((await verify(dataFile, JSON.stringify(manifest()))).ok).toBe(true);
  });

  it('detects an edited row (valid gzip), a raw byte flip and a deleted row', async () => {
    const rows = rowsText();
    const line = rows.split('\n').find((l) => l.includes('org-b'))!;
    const edited = line.replace('"title": "month -14 event', '"title": "month -15 event');
    expect(edited).not.toBe(line);
    const regzipped = await verify(write('edited.ndjson.gz', gzipSync(rows.replace(line, edited))));
    expect(regzipped).toMatchObject({
      ok: false,
      firstBroken: {
        kind: 'event',
        reason: 'content does not match the event hash',
        organizationId: 'org-b',
      },
    });

    const raw = readFileSync(dataFile);
    raw[Math.floor(raw.length / 2)] ^= 0x01;
    const flipped = await verify(write('flipped.ndjson.gz', raw));
    expect(flipped.ok).toBe(false);
    expect(flipped.firstBroken).toMatchObject({ kind: 'file' });
    expect(flipped.firstBroken!.reason).toMatch(/cannot be read|not the one the manifest describes/);

    const lines = rows.trimEnd().split('\n');
    const removed = await verify(write('removed.ndjson.gz', gzipSync(lines.slice(1).join('\n') + '\n')));
    expect(removed.ok).toBe(false);
    expect(removed.firstBroken).toMatchObject({ kind: 'seal' });
    expect(removed.firstBroken!.reason).toMatch(/^batch has \d+ events, the seal counts \d+$/);
  });

  it('detects any edit of the manifest: integrity section, row count, checksum, range, columns', async () => {
    const edits: Array<(m: Manifest) => void> = [
      (m) => (m.integrity.chains[0].seals[0].eventCount += 1),
      (m) => (m.integrity.chains[0].checkpoint!.signedAt = '2020-01-01T00:00:00.000Z'),
      (m) => m.integrity.chains.splice(1, 1),
      (m) => (m.rowCount = m.files[0].rows = m.rowCount - 1),
      (m) => (m.files[0].sha256 = createHash('sha256').update('other').digest('hex')),
      (m) => (m.source.to = m.source.from),
      (m) => m.columns.reverse(),
    ];
    for (const edit of edits) {
      const copy = manifest();
      edit(copy);
      const result = await verify(dataFile, JSON.stringify(copy, null, 2));
      expect(result).toMatchObject({
        ok: false,
        firstBroken: {
          kind: 'manifest',
          reason: 'the manifest signature is not valid (the manifest was edited)',
        },
      });
    }
    const unsigned = manifest();
    delete unsigned.integrity.manifestSignature;
    expect((await verify(dataFile, JSON.stringify(unsigned))).firstBroken).toMatchObject({
      kind: 'manifest',
      reason: 'the manifest is not signed',
    });
    const foreign = await verifyArchive(
      dataFile,
      manifestText,
      new CheckpointSigner(Buffer.alloc(32, 9).toString('base64')).publicKeys,
    );
    expect(foreign.firstBroken).toMatchObject({
      kind: 'manifest',
      reason: expect.stringMatching(/unknown key/),
    });
  });

  it('catches what a re-signed manifest would still get wrong: chains are checked on their own', async () => {
    // Whoever holds the signing key can re-sign a manifest, but not forge the chain: a section whose seal
    // was edited fails on the seal hash and the checkpoint, whatever signs the manifest.
    const signer = app.get(CheckpointSigner);
    const resigned = (edit: (m: Manifest) => void) => {
      const copy = manifest();
      edit(copy);
      delete copy.integrity.manifestSignature;
      copy.integrity.manifestSignature = signer.signManifest(copy);
      return JSON.stringify(copy);
    };
    const seal = await verify(
      dataFile,
      resigned((m) => (m.integrity.chains[0].seals[0].eventCount += 1)),
    );
    expect(seal.firstBroken).toMatchObject({
      kind: 'seal',
      reason: 'seal content does not match the seal hash',
    });

    // Brotli per the manifest: the same rows, recompressed, verify once the manifest describes them.
    const brotli = brotliCompressSync(Buffer.from(rowsText()));
    const brFile = write('data.ndjson.br', brotli);
    const asBrotli = resigned((m) => {
      m.files[0] = {
        ...m.files[0],
        key: m.files[0].key.replace(/gz$/, 'br'),
        compression: 'brotli',
        bytes: brotli.length,
        sha256: createHash('sha256').update(brotli).digest('hex'),
      };
    });
    expect(await verify(brFile, asBrotli)).toMatchObject({ ok: true, checkedEvents: 2 * PER_MONTH });
    // zstd likewise (compressed by libzstd here, not by the exporter).
    const zstd = await zstdCompress(Buffer.from(rowsText()));
    const zstFile = write('data.ndjson.zst', zstd);
    const asZstd = resigned((m) => {
      m.files[0] = {
        ...m.files[0],
        key: m.files[0].key.replace(/gz$/, 'zst'),
        compression: 'zstd',
        bytes: zstd.length,
        sha256: createHash('sha256').update(zstd).digest('hex'),
      };
    });
    expect(await verify(zstFile, asZstd)).toMatchObject({ ok: true, checkedEvents: 2 * PER_MONTH });
    // ...and the gzip file no longer matches that manifest.
    expect((await verify(dataFile, asBrotli)).firstBroken).toMatchObject({ kind: 'file' });
  });

  it('runs offline from the built CLI with the two files and the public key only', async () => {
    const run = promisify(execFile);
    const env = { PATH: process.env.PATH ?? '' };
    const manifestFile = write('manifest.json', manifestText);
    const ok = await run(
      process.execPath,
      [CLI_JS, 'verify-archive', dataFile, manifestFile, '--public-key', keyFile],
      { env },
    );
    expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true, checkedEvents: 2 * PER_MONTH });

    const rows = rowsText();
    const edited = write('cli-edited.ndjson.gz', gzipSync(rows.replace('actor-1', 'actor-7')));
    const broken = await run(
      process.execPath,
      [CLI_JS, 'verify-archive', edited, manifestFile, '--public-key', keyFile],
      { env },
    ).catch((error: { code: number; stdout: string }) => error);
    expect((broken as { code: number }).code).toBe(1);
    expect(JSON.parse((broken as { stdout: string }).stdout).firstBroken).toMatchObject({
      kind: 'event',
      reason: 'content does not match the event hash',
    });
  });

  it('the next month verifies too, though the batch it shares with the previous month is now cold', async () => {
    app.get(Clock).set(new Date(monthStart(-11).getTime() + DAY_MS));
    const report = await app.get(ArchiveService).run();
    expect(report?.archived).toEqual([
      expect.objectContaining({ partition: partitionName(monthStart(-13)), rows: 2 * PER_MONTH }),
    ]);
    const archive = (await app.get(ArchiveService).list()).find(
      (a) => a.partitionName === partitionName(monthStart(-13)),
    )!;
    const text = readFileSync(join(dir, archive.manifestKey), 'utf8');
    // Month -14's events of the shared batches are gone from the database: their hashes were kept when
    // it went cold, and are this archive's outside leaves.
    const kept = await db.sql.query(`SELECT id::text FROM audit_archived_leaves WHERE occurred_at < $1`, [
      monthStart(-13),
    ]);
    expect(kept.rows.length).toBeGreaterThan(0);
    const outside = (JSON.parse(text) as Manifest).integrity.chains.flatMap((c) =>
      c.seals.flatMap((seal) => seal.outsideLeaves.map(([id]) => id)),
    );
    expect(outside.sort()).toEqual(kept.rows.map((r) => r.id as string).sort());
    const result = await verifyArchive(join(dir, archive.dataKey), text, keys());
    expect(result.firstBroken).toBeNull();
    expect(result).toMatchObject({ ok: true, checkedEvents: 2 * PER_MONTH });
  });

  it('database verification still passes after archival, and still checks the kept hashes', async () => {
    // Both months are cold now: every seal of them is a link; the batches shared by the two months are
    // checked against the hashes kept in audit_archived_leaves.
    expect(await verifyDatabase()).toMatchObject({ ok: true, checkedEvents: 0, firstBroken: null });
    await db.sql.query(
      // Every bit of the first byte flipped: setting it to 0 changed nothing for 1 hash in 256 (a flaky test).
      `UPDATE audit_archived_leaves SET event_hash = set_byte(event_hash, 0, get_byte(event_hash, 0) # 255)
        WHERE id = (SELECT id FROM audit_archived_leaves WHERE org_key = 'org-a' LIMIT 1)`,
    );
    expect((await verifyDatabase()).firstBroken).toMatchObject({
      kind: 'seal',
      organizationId: 'org-a',
      reason: 'Merkle root of the batch events does not match the seal',
    });
  });
});
