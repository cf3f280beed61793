import { INestApplication } from '@nestjs/common';
import { Transform } from 'node:stream';
import request from 'supertest';
import { AuditService, PersonalDataService } from '../src/audit';
import { EventsRepository } from '../src/query/events.repository';
import { createTestDatabase, TestDatabase } from './support/test-db';
import { startTestApp, token } from './support/test-app';

/**
 * /audit/export never drops the connection: bad parameters are a 400 before the first byte, a failure before
 * the first byte an ordinary error response, and a failure mid-stream ends the body with an error record.
 */
describe('export errors', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let auth: string;
  const exportOf = (query: Record<string, string>) =>
    request(app.getHttpServer()).get('/audit/export').query(query).set('Authorization', auth);

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await startTestApp(db.url);
    auth = `Bearer ${await token({ sub: 'auditor', org: 'org-a', roles: ['audit:read'] })}`;
    const audit = app.get(AuditService);
    for (let i = 0; i < 20; i++)
      audit.record({
        action: 'update',
        resourceType: 'invoice',
        resourceId: `inv-${i}`,
        actor: { id: 'u1', organizationId: 'org-a' },
        after: { total: i, note: 'x'.repeat(200) },
      });
    await audit.flush();
  });

  afterEach(() => jest.restoreAllMocks());

  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it.each([
    ['ndjson', 'from', '2026-W01'],
    ['csv', 'to', '20261101'],
    ['ndjson', 'actorId', 'a\u0000b'],
    ['csv', 'q', '\u0000'],
    ['ndjson', 'resourceId', 'x'.repeat(300)],
  ])(
    '%s with a bad %s: a 400 naming the field, before any byte of the file',
    async (format, field, value) => {
      const res = await exportOf({ format, [field]: value });
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(/application\/json/);
      expect(res.headers['content-disposition']).toBeUndefined();
      expect(res.body.message.join(' ')).toContain(field);
    },
  );

  it('a failure before the first byte is a JSON 500 with the request id, not a reset', async () => {
    jest.spyOn(EventsRepository.prototype, 'copyExport').mockImplementation(() => {
      throw new Error('simulated: COPY could not start');
    });
    const res = await exportOf({ format: 'csv' });
    expect(res.status).toBe(500);
    expect(res.headers['content-disposition']).toBeUndefined();
    expect(res.headers['content-type']).toMatch(/application\/json/);
    expect(res.body).toMatchObject({ statusCode: 500, requestId: expect.any(String) });
    expect(JSON.stringify(res.body)).not.toContain('simulated');
  });

  /**
   * Lets the first line and 20 bytes of the next through, then, once those are on the wire, fails (as a key
   * service or the database connection going away would).
   */
  const failingMidStream = () => {
    let sent = false;
    return new Transform({
      transform(chunk: Buffer, _encoding, done) {
        if (!sent) {
          sent = true;
          this.push(chunk.subarray(0, chunk.indexOf(10) + 1 + 20));
        }
        done();
      },
      flush(done) {
        setTimeout(() => done(new Error('simulated: key service went away')), 100);
      },
    });
  };

  it.each([
    [
      'ndjson',
      (last: string) => expect(JSON.parse(last)).toMatchObject({ error: { code: 'EXPORT_INCOMPLETE' } }),
    ],
    ['csv', (last: string) => expect(last).toMatch(/^#error,EXPORT_INCOMPLETE,"[^"]+"$/)],
  ])('%s: a failure after the first bytes ends the body with an error record', async (format, checkLast) => {
    jest.spyOn(app.get(PersonalDataService), 'revealStream').mockImplementation(() => failingMidStream());
    const res = await exportOf({ format })
      .buffer(true)
      .parse((response, callback) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
        response.on('end', () => callback(null, text));
      });
    expect(res.status).toBe(200);
    const lines = (res.body as string).split('\n');
    expect(lines.pop()).toBe(''); // the record is a whole line
    checkLast(lines[lines.length - 1]);
    // The cut line was ended before the record: the record stands on its own line.
    expect(lines.length).toBe(3);
    expect(lines[lines.length - 1]).not.toContain('simulated');
  });
});
