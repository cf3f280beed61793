import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync, gzipSync } from 'node:zlib';
import { INestApplication } from '@nestjs/common';
import { Pool } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { AuditService } from 'src/audit';
import { parsePublicKey } from 'src/common/crypto/ed25519-keys';
import { archiveIntegritySection, ArchiveIntegritySection } from 'src/integrity/archive-section';
import { verifyArchive } from 'src/integrity/archive-verifier';
import { keyIdOf } from 'src/integrity/checkpoint-statement';
import { CheckpointSigner } from 'src/integrity/checkpoint-signer';
import { IntegrityService } from 'src/integrity/integrity.service';
import { MAIN_JS } from './support/process';
import { createTestDatabase, TestDatabase } from './support/test-db';
import { flushAudit, startTestApp } from './support/test-app';

const CLI_JS = join(MAIN_JS, '..', 'integrity', 'integrity.cli.js');

describe('archives stay verifiable offline', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let pool: Pool;
  let dir: string;
  let file: string;
  let manifestFile: string;
  let keyFile: string;
  let section: ArchiveIntegritySection;
  const keys = () => {
    const key = parsePublicKey(readFileSync(keyFile, 'utf8'));
    return new Map([[keyIdOf(key), key]]);
  };

  const now = new Date();
  const from = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  const to = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
  const partition = `audit_events_p${from.getUTCFullYear()}_${String(from.getUTCMonth() + 1).padStart(2, '0')}`;

  /** The partition's whole rows as the archive job writes them: gzip of row_to_json lines. */
  async function exportPartition(): Promise<Buffer> {
    const client = await pool.connect();
    try {
      const chunks: Buffer[] = [];
      const stream = client.query(
        copyTo(
          `COPY (SELECT row_to_json(e) FROM ONLY "${partition}" e) TO STDOUT WITH (FORMAT csv, DELIMITER E'\\x02', QUOTE E'\\x01')`,
        ),
      );
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      return gzipSync(Buffer.concat(chunks));
    } finally {
      client.release();
    }
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await startTestApp(db.url, { AUDIT_BATCH_SIZE: '20', AUDIT_FLUSH_CONCURRENCY: '1' });
    pool = new Pool({ connectionString: db.url, max: 2 });
    const audit = app.get(AuditService);
    // Batches that cross the partition boundary: every third event belongs to next month.
    const nextMonth = new Date(to.getTime() + 3600_000);
    for (let i = 0; i < 90; i++) {
      audit.record({
        action: 'update',
        resourceType: 'invoice',
        resourceId: `inv-${i}`,
        actor: { id: 'billing', organizationId: i % 2 ? 'org-a' : 'org-b' },
        before: { total: i, lines: [{ sku: 'x', qty: 1 }] },
        after: { total: i + 0.5, lines: [{ sku: 'x', qty: 2 }], note: 'ünïcode "quoted"\n' },
        ip: i % 3 ? '198.51.100.7' : '2001:db8::42',
        occurredAt: i % 3 === 2 ? nextMonth : undefined,
      });
    }
    await flushAudit(app);
    await app.get(IntegrityService).chainAndSign();
    dir = mkdtempSync(join(tmpdir(), 'audit-archive-'));
    file = join(dir, `${partition}.ndjson.gz`);
    writeFileSync(file, await exportPartition());
    section = await archiveIntegritySection(pool, from, to);
    manifestFile = join(dir, 'manifest.json');
    writeFileSync(manifestFile, JSON.stringify({ partition, rows: 60, integrity: section }, null, 2));
    keyFile = join(dir, 'audit-signing.pub');
    writeFileSync(keyFile, app.get(CheckpointSigner).describe()[0].publicKeyPem);
  });
  afterAll(async () => {
    await pool?.end();
    await app?.close();
    await db?.drop();
  });

  it('verifies a whole partition archive, batches across the boundary included', async () => {
    expect(section.chains.map((c) => c.orgKey).sort()).toEqual(['org-a', 'org-b']);
    expect(section.chains.some((c) => c.seals.some((s) => s.outsideLeaves.length > 0))).toBe(true);
    const result = await verifyArchive(file, section, keys());
    expect(result).toMatchObject({ ok: true, checkedEvents: 60, firstBroken: null });
  });

  it('detects an edited byte anywhere in the rows file', async () => {
    const rows = gunzipSync(readFileSync(file)).toString('utf8');
    const edits: Array<[string, string]> = [
      ['"total": 4.5', '"total": 4.6'],
      ['billing', 'bi11ing'],
      ['198.51.100.7', '198.51.100.8'],
    ];
    for (const [a, b] of edits) {
      const edited = join(dir, 'edited.ndjson.gz');
      expect(rows.includes(a)).toBe(true);
      writeFileSync(edited, gzipSync(rows.replace(a, b)));
      const result = await verifyArchive(edited, section, keys());
      expect(result.ok).toBe(false);
      expect(result.firstBroken).toMatchObject({
        kind: 'event',
        reason: 'content does not match the event hash',
      });
    }
    // A line removed: its batch no longer adds up.
    const lines = rows.trimEnd().split('\n');
    const removed = join(dir, 'removed.ndjson.gz');
    writeFileSync(removed, gzipSync(lines.slice(1).join('\n') + '\n'));
    expect((await verifyArchive(removed, section, keys())).firstBroken).toMatchObject({ kind: 'seal' });
  });

  it('detects an edited integrity section: seal, leaf, checkpoint, or a seal dropped', async () => {
    const variants: Array<(s: ArchiveIntegritySection) => void> = [
      (s) => (s.chains[0].seals[0].eventCount += 1),
      (s) =>
        (s.chains[0].seals[0].merkleRoot = s.chains[0].seals[0].merkleRoot.replace(/^./, (c) =>
          c === 'a' ? 'b' : 'a',
        )),
      (s) => {
        const withLeaves = s.chains.flatMap((c) => c.seals).find((x) => x.outsideLeaves.length > 0)!;
        withLeaves.outsideLeaves[0][1] = '00'.repeat(32);
      },
      (s) => (s.chains[0].checkpoint!.signedAt = '2020-01-01T00:00:00.000Z'),
      (s) => s.chains[0].seals.splice(1, 1),
    ];
    for (const edit of variants) {
      const copy = JSON.parse(JSON.stringify(section)) as ArchiveIntegritySection;
      edit(copy);
      const result = await verifyArchive(file, copy, keys());
      expect(result.ok).toBe(false);
    }
    // Another key does not verify the checkpoint.
    const other = new CheckpointSigner(Buffer.alloc(32, 9).toString('base64'));
    const result = await verifyArchive(file, section, other.publicKeys);
    expect(result.firstBroken).toMatchObject({ kind: 'checkpoint' });
  });

  it('runs offline from the CLI with the files and the public key only', async () => {
    const run = promisify(execFile);
    const env = { PATH: process.env.PATH ?? '' };
    const ok = await run(
      process.execPath,
      [CLI_JS, 'verify-archive', file, manifestFile, '--public-key', keyFile],
      { env },
    );
    expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true, checkedEvents: 60 });

    const rows = gunzipSync(readFileSync(file)).toString('utf8');
    const edited = join(dir, 'cli-edited.ndjson.gz');
    writeFileSync(edited, gzipSync(rows.replace('"qty": 2', '"qty": 3')));
    const broken = await run(
      process.execPath,
      [CLI_JS, 'verify-archive', edited, manifestFile, '--public-key', keyFile],
      { env },
    ).catch((error: { code: number; stdout: string }) => error);
    expect((broken as { code: number }).code).toBe(1);
    expect(JSON.parse((broken as { stdout: string }).stdout).firstBroken.kind).toBe('event');
  });
});
