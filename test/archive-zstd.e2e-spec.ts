import { compress as libzstdCompress, decompress as libzstdDecompress } from '@mongodb-js/zstd';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { ArchiveService } from '../src/archive/archive.service';
import { maintainNow, monthStart, partitionName, recordMonths } from './support/lifecycle';
import { waitForMaintenanceIdle } from './support/maintenance';
import { startTestApp, token } from './support/test-app';
import { createTestDatabase, TestDatabase } from './support/test-db';

/** ARCHIVE_COMPRESSION=zstd end to end: export, read-back verification, drop, restore, tamper refusal. */
describe('zstd archives', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let dir: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    dir = mkdtempSync(join(tmpdir(), 'audit-zstd-'));
    app = await startTestApp(db.url, { ARCHIVE_URL: pathToFileURL(dir).href, ARCHIVE_COMPRESSION: 'zstd' });
    await waitForMaintenanceIdle(db);
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('archives a partition as .ndjson.zst that zstd decodes, restores it, and refuses a replaced file', async () => {
    const ids = await recordMonths(app, -15, -15, 300);
    await maintainNow(app);
    const report = (await app.get(ArchiveService).run())!;
    expect(report.archived).toEqual([expect.objectContaining({ partition: partitionName(monthStart(-15)) })]);
    const [archive] = await app.get(ArchiveService).list();
    expect(archive).toMatchObject({
      state: 'cold',
      compression: 'zstd',
      rowCount: 300,
      dataKey: expect.stringMatching(/\/data\.ndjson\.zst$/),
    });
    const table = await db.sql.query('SELECT to_regclass($1) AS t', [partitionName(monthStart(-15))]);
    expect(table.rows[0].t).toBeNull();

    // The stored file is plain zstd: libzstd reads it, one JSON array per event.
    const file = join(dir, archive.dataKey);
    const text = (await libzstdDecompress(readFileSync(file))).toString();
    const stored = text
      .trimEnd()
      .split('\n')
      .map((line) => (JSON.parse(line) as string[])[0]);
    expect(stored.sort()).toEqual([...ids].sort());

    const admin = await token({ sub: 'root', roles: ['audit:platform'] });
    const restored = await request(app.getHttpServer())
      .post(`/audit/archives/${archive.id}/restore`)
      .set('Authorization', `Bearer ${admin}`)
      .expect(200);
    expect(restored.body.rows).toBe(300);
    const back = await db.sql.query(`SELECT id::text FROM "${restored.body.table}"`);
    expect(back.rows.map((r) => r.id as string).sort()).toEqual([...ids].sort());

    // Another valid zstd file in its place (same codec, one event edited) is refused before any row loads.
    writeFileSync(file, await libzstdCompress(Buffer.from(text.replace('actor-1', 'actor-2'))));
    const refused = await request(app.getHttpServer())
      .post(`/audit/archives/${archive.id}/restore`)
      .set('Authorization', `Bearer ${admin}`)
      .expect(422);
    expect(refused.body.code).toBe('ARCHIVE_TAMPERED');

    // Garbage behind a zstd magic number: refused on its checksum, before any decoder reads it.
    const decode = jest.spyOn(app.get(ArchiveService), 'measure');
    writeFileSync(file, Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), randomBytes(4096)]));
    const garbage = await request(app.getHttpServer())
      .post(`/audit/archives/${archive.id}/restore`)
      .set('Authorization', `Bearer ${admin}`)
      .expect(422);
    expect(garbage.body.code).toBe('ARCHIVE_TAMPERED');
    expect(decode).not.toHaveBeenCalled();
    decode.mockRestore();
  });
});
