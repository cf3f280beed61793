import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { stringify } from 'csv-stringify';
import type { Response } from 'express';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Pool } from 'pg';
import { AuditService } from 'src/audit';
import { AuthUser } from 'src/common/auth/auth.types';
import { ExportQuery } from 'src/query/dto/export.query';
import { toEventFilters } from 'src/query/event-filters';
import { EventView, toEventView } from 'src/query/event.view';
import { EventRow, EventsRepository } from 'src/query/events.repository';
import { organizationScope } from 'src/query/tenant-scope';

export const EXPORT_POOL = Symbol('EXPORT_POOL');

const CSV_COLUMNS: Array<keyof EventView> = [
  'id',
  'occurredAt',
  'organizationId',
  'actorId',
  'actorType',
  'action',
  'eventType',
  'resourceType',
  'resourceId',
  'status',
  'statusCode',
  'errorMessage',
  'severity',
  'requestId',
  'ip',
  'userAgent',
  'route',
  'method',
  'durationMs',
  'before',
  'after',
  'changes',
  'metadata',
];

/**
 * Streams every matching event as NDJSON or CSV from a server-side cursor. Node streams carry the
 * backpressure end to end (socket -> serializer -> cursor), so memory stays flat whatever the size; a client
 * that disconnects destroys the pipeline, which closes the cursor and frees the connection. The export is
 * itself audited (action `export`, with the filters and the row count).
 */
@Injectable()
export class ExportService implements OnApplicationShutdown {
  private readonly logger = new Logger(ExportService.name);

  constructor(
    private readonly events: EventsRepository,
    private readonly audit: AuditService,
    @Inject(EXPORT_POOL) private readonly pool: Pool,
  ) {}

  async export(user: AuthUser, query: ExportQuery, response: Response, requestId?: string): Promise<void> {
    const filters = toEventFilters(query, organizationScope(user, query.organizationId));
    const format = query.format ?? 'ndjson';
    const recordExport = (rows: number, error?: Error) =>
      this.audit.record({
        action: 'export',
        resourceType: 'audit-event',
        actor: { id: user.sub, organizationId: user.org, type: 'user' },
        requestId,
        status: error ? 'failure' : 'success',
        errorMessage: error ? `export did not complete: ${error.message}` : undefined,
        metadata: { format, rows, filters: { ...query, format: undefined } },
      });
    let rows = 0;
    const count = new Transform({
      objectMode: true,
      transform(row: EventRow, _encoding, done) {
        rows++;
        done(null, toEventView(row));
      },
      // Every row has been read: record the export before the client sees the end of the body.
      flush(done) {
        recordExport(rows);
        done();
      },
    });

    const client = await this.pool.connect();
    let failure: Error | undefined;
    try {
      response.status(200);
      response.setHeader(
        'Content-Type',
        format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson',
      );
      response.setHeader('Content-Disposition', `attachment; filename="audit-events.${format}"`);
      await pipeline(this.events.stream(client, filters), count, serializer(format), response);
    } catch (error) {
      failure = error as Error;
      recordExport(rows, failure);
      if ((error as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE') {
        this.logger.error(`Export failed after ${rows} rows: ${failure.message}`);
      }
      // Headers are gone already: the client sees a truncated body and the connection closed.
      response.destroy();
    } finally {
      // A client interrupted mid-cursor is not reusable: hand back an error so the pool discards it.
      client.release(failure);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.pool.end();
  }
}

function serializer(format: 'ndjson' | 'csv') {
  if (format === 'csv') {
    return stringify({
      header: true,
      columns: CSV_COLUMNS as string[],
      cast: {
        object: (value) => JSON.stringify(value),
        boolean: (value) => String(value),
      },
    });
  }
  return new Transform({
    writableObjectMode: true,
    transform(event: EventView, _encoding, done) {
      done(null, `${JSON.stringify(event)}\n`);
    },
  });
}
