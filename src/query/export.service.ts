import { Inject, Injectable, Logger, OnApplicationShutdown, Optional } from '@nestjs/common';
import type { Response } from 'express';
import { Pool } from 'pg';
import { ReadReplicas } from '../common/database/read-replicas';
import { AuditService, PersonalDataService } from '../audit';
import { AuthUser } from '../common/auth/auth.types';
import { ExportQuery } from './dto/export.query';
import { toEventFilters } from './event-filters';
import { EventsRepository, ExportFormat } from './events.repository';
import { exportErrorRecord, ResponseSink, RowCounter, streamExport } from './export-stream';
import { organizationScope } from '../common/auth/tenant-scope';

export const EXPORT_POOL = Symbol('EXPORT_POOL');

const CONTENT_TYPES: Record<ExportFormat, string> = {
  ndjson: 'application/x-ndjson',
  csv: 'text/csv; charset=utf-8',
};

/**
 * Streams every matching event as NDJSON or CSV. Postgres serializes the rows (`COPY ... TO STDOUT`) and
 * Node pipes the bytes to the socket: backpressure runs end to end (socket -> COPY stream -> connection),
 * so memory stays flat whatever the size, and a client that disconnects destroys the pipeline, which
 * drops the connection and with it the query. The export is itself audited (action `export`, with the
 * filters and the row count).
 *
 * Errors: every parameter is validated before the first byte (400 naming the field), and a failure before
 * the first byte is an ordinary JSON error response. A failure after the body has started (the status, 200,
 * is sent by then) ends the body with one error record instead of dropping the connection (see
 * `exportErrorRecord`): NDJSON a last line `{"error":{"code":"EXPORT_INCOMPLETE","message":...,"rows":N,
 * "requestId":...}}`, CSV a last row `#error,EXPORT_INCOMPLETE,<message>`. A complete export never holds
 * such a record; a reader that finds one must treat the file as incomplete.
 */
@Injectable()
export class ExportService implements OnApplicationShutdown {
  private readonly logger = new Logger(ExportService.name);

  constructor(
    private readonly events: EventsRepository,
    private readonly audit: AuditService,
    private readonly personal: PersonalDataService,
    @Inject(EXPORT_POOL) private readonly pool: Pool,
    @Optional() private readonly replicas?: ReadReplicas,
  ) {}

  /** The export's connection: on a replica that is up, else from the export pool (the primary). */
  private readonly connections = {
    connect: () => (this.replicas ? this.replicas.connect(this.pool) : this.pool.connect()),
  };

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

    response.status(200);
    response.setHeader('Content-Type', CONTENT_TYPES[format]);
    response.setHeader('Content-Disposition', `attachment; filename="audit-events.${format}"`);
    // Every row has been read: record the export before the client sees the end of the body.
    const counter = new RowCounter(format, (rows) => recordExport(rows));
    const body = new ResponseSink(response, format === 'csv');
    try {
      await streamExport(
        this.connections,
        this.events,
        filters,
        format,
        body,
        counter,
        this.personal.revealStream(format),
      );
    } catch (error) {
      const failure = error as Error;
      recordExport(counter.rows, failure);
      // The client went away: nobody is left to tell.
      if (response.destroyed || response.writableEnded) return;
      // Name and code only: a driver's message may quote the filter values.
      const code = (error as NodeJS.ErrnoException).code;
      this.logger.error(
        `Export failed after ${counter.rows} rows (request ${requestId ?? '-'}): ${failure.name}${code ? ` ${code}` : ''}`,
      );
      if (!response.headersSent) {
        // Nothing sent yet: an ordinary error response (the exception filter's), not an attachment.
        response.removeHeader('Content-Disposition');
        response.removeHeader('Content-Type');
        throw error;
      }
      const message = `the export stopped after ${counter.rows} rows; the data above is incomplete`;
      response.end(exportErrorRecord(format, { message, rows: counter.rows, requestId }, body.cut));
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.pool.end();
  }
}
