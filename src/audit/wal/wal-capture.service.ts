import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import type { Pool } from 'pg';
import { DataSource } from 'typeorm';
import { AUDIT_OPTIONS } from '../audit.constants';
import type { ResolvedAuditOptions } from '../audit-options';
import { AuditEventRepository } from '../audit-event.repository';
import { PersonalDataService } from '../personal-data/personal-data.service';
import { RedactionRules } from '../redaction';
import { tenantColumn } from '../entity-state.sql';
import { clientConfigFromDataSource, poolFromDataSource } from '../../common/database/pg-pool';
import { describeError } from '../../common/database/safe-query.logger';
import { MetricsService } from '../../common/metrics/metrics.service';
import { installWalContextHook, registerCapturedTables, tableNameOf } from './wal-context.hook';
import { resourceTypeFromController } from '../audit-target.resolver';
import { WalConsumer } from './wal-consumer';
import { tableKey, WalTable } from './wal-events';
import { ResolvedWalOptions } from './wal-options';
import { slotProblem, WAL_LEVEL_HELP, WalSetupRepository } from './wal-setup.repository';
import type { WalSlotState, WalStatus } from './wal-status';

export const AUDIT_WAL_OPTIONS = Symbol('AUDIT_WAL_OPTIONS');

/**
 * The `wal` capture mode in one process: checks the server (wal_level), sets up the publication, replica
 * identity, session triggers and slot, runs the slot consumer (WalConsumer) when `consume` is on, and reads the
 * slot's lag for `/metrics` and readiness, reporting a slot that falls behind before it fills the disk.
 */
@Injectable()
export class WalCaptureService
  implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown
{
  private readonly logger = new Logger('AuditWal');
  private readonly pool: Pool;
  private readonly setup: WalSetupRepository;
  private consumer: WalConsumer | null = null;
  private poller?: NodeJS.Timeout;
  private last: WalStatus;
  private connected = false;
  private readonly lag;
  private readonly retained;
  private readonly events;
  private readonly up;

  constructor(
    @Inject(AUDIT_WAL_OPTIONS) private readonly options: ResolvedWalOptions,
    @Inject(AUDIT_OPTIONS) private readonly audit: ResolvedAuditOptions,
    private readonly dataSource: DataSource,
    private readonly personal: PersonalDataService,
    metrics: MetricsService,
  ) {
    this.pool = poolFromDataSource(dataSource, 3, 'nest-audit-trail:wal');
    this.setup = new WalSetupRepository(this.pool);
    this.last = { slot: options.slot, consuming: false, state: null, problem: 'not read yet' };
    this.lag = metrics.gauge({
      name: 'audit_wal_slot_lag_bytes',
      help: 'WAL between the server position and what the wal capture slot has confirmed stored',
    });
    this.retained = metrics.gauge({
      name: 'audit_wal_slot_retained_bytes',
      help: 'WAL the wal capture slot keeps on the server disk',
    });
    this.events = metrics.counter({
      name: 'audit_wal_events_total',
      help: 'Events recorded from the WAL, by origin (application: an @Audited request; database: no context)',
      labelNames: ['origin'],
    });
    this.up = metrics.gauge({
      name: 'audit_wal_consumer_connected',
      help: '1 while this process reads the wal capture slot',
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    installWalContextHook(this.dataSource);
    const level = await this.setup.walLevel();
    if (level !== 'logical') throw new Error(`${WAL_LEVEL_HELP}; this server has wal_level=${level}`);
    const tables = this.tables();
    registerCapturedTables(tables.keys());
    if (this.options.setup)
      await this.setup.ensure(this.options.publication, this.options.slot, [...tables.values()]);
    if (this.options.consume) {
      this.consumer = new WalConsumer(
        clientConfigFromDataSource(this.dataSource),
        { ...this.options, maxStateBytes: this.audit.maxStateBytes },
        tables,
        new AuditEventRepository(this.pool, (ids) => this.personal.markStored(ids)),
        this.personal,
        {
          stored: (count, fromApplication) => {
            this.events.inc({ origin: 'application' }, fromApplication);
            this.events.inc({ origin: 'database' }, count - fromApplication);
          },
          connected: (up) => {
            this.connected = up;
            this.up.set(up ? 1 : 0);
          },
        },
      );
      this.consumer.start();
    }
    await this.poll();
    this.poller = setInterval(() => void this.poll(), this.options.lagPollMs);
    this.poller.unref();
  }

  /**
   * The slot is let go before any module's shutdown (an app that stops its database in onApplicationShutdown):
   * Postgres' shutdown waits for a logical walsender's client, which would be waiting for Postgres.
   */
  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.poller);
    await this.consumer?.stop();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }

  status(): WalStatus {
    return { ...this.last, consuming: this.connected };
  }

  /** Stores what was decoded so far (tests, shutdown). */
  async flush(): Promise<void> {
    await this.consumer?.flush();
  }

  /** Reads the slot; logs an error when it crosses a limit (once per crossing). */
  async poll(): Promise<WalStatus> {
    let state: WalSlotState | null = null;
    let problem: string | null;
    try {
      state = await this.setup.slotState(this.options.slot);
      problem = slotProblem(this.options, state);
    } catch (error) {
      problem = `slot not readable: ${describeError(error)}`;
    }
    if (state) {
      this.lag.set(state.lagBytes);
      this.retained.set(state.retainedBytes);
    }
    if (problem && problem !== this.last.problem) this.logger.error(`WAL capture: ${problem}`);
    this.last = { slot: this.options.slot, consuming: this.connected, state, problem };
    return this.status();
  }

  /** The captured tables, from the entities' metadata. */
  private tables(): Map<string, WalTable> {
    const rules = RedactionRules.fromKeys(this.audit.redactKeys);
    const tables = new Map<string, WalTable>();
    for (const { entity, resourceType } of this.options.entities) {
      const metadata = this.dataSource.getMetadata(entity);
      if (metadata.primaryColumns.length !== 1)
        throw new Error(`AuditWalModule: ${metadata.name} needs a single-column primary key`);
      const [schema, table] = tableNameOf(metadata);
      // `Account` -> `account`: the resource type a controller of the same name gets.
      const type = resourceType ?? resourceTypeFromController(metadata.name);
      const byType = this.audit.ignoredFieldsByResource[type] ?? [];
      tables.set(tableKey(schema, table), {
        schema,
        table,
        resourceType: type,
        keyColumn: metadata.primaryColumns[0].databaseName,
        tenantColumn: tenantColumn(metadata)?.databaseName ?? null,
        properties: new Map(metadata.columns.map((c) => [c.databaseName, c.propertyName])),
        rules,
        ignoredFields: [...this.audit.ignoredFields, ...byType],
      });
    }
    return tables;
  }
}
