import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import type { Response } from 'express';
import { Pool } from 'pg';
import { AuditService, PersonalDataService } from '../audit';
import { AuthUser } from '../common/auth/auth.types';
import { ExportQuery } from './dto/export.query';
import { toEventFilters } from './event-filters';
import { EventsRepository, ExportFormat } from './events.repository';
import { RowCounter, streamExport } from './export-stream';
import { organizationScope } from './tenant-scope';

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
 */
@Injectable()
export class ExportService implements OnApplicationShutdown {
  private readonly logger = new Logger(ExportService.name);

  constructor(
    private readonly events: EventsRepository,
    private readonly audit: AuditService,
    private readonly personal: PersonalDataService,
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

    response.status(200);
    response.setHeader('Content-Type', CONTENT_TYPES[format]);
    response.setHeader('Content-Disposition', `attachment; filename="audit-events.${format}"`);
    // Every row has been read: record the export before the client sees the end of the body.
    const counter = new RowCounter(format, (rows) => recordExport(rows));
    try {
      await streamExport(
        this.pool,
        this.events,
        filters,
        format,
        response,
        counter,
        this.personal.revealStream(format),
      );
    } catch (error) {
      const failure = error as Error;
      recordExport(counter.rows, failure);
      if ((error as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE') {
        this.logger.error(`Export failed after ${counter.rows} rows: ${failure.message}`);
      }
      // Headers are gone already: the client sees a truncated body and the connection closed.
      response.destroy();
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.pool.end();
  }
}
