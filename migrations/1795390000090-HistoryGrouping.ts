import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Indexes of the grouping reads (`GET <admin>/requests/:requestId`, `GET <admin>/transactions/:txid`):
 * - everything one request did, oldest first: `request_id = $1 [AND organization_id = $2] ORDER BY
 *   occurred_at, id` walks (request_id, occurred_at, id) in order in each partition (partial: reads of the
 *   trail and jobs without a request id are left out);
 * - everything one transaction did: the transactional capture's `metadata.transactionId` (xid8 as text),
 *   partial on the events that carry one (queries repeat the predicate so the planner can use it).
 * Created on the partitioned parent, as the others: Postgres builds them on every partition, present and
 * future. Warm partitions (detached from it, attached to `audit_events_warm`, which has no indexes of its
 * own) get the same indexes one by one.
 */
const INDEXES: Array<[suffix: string, definition: string]> = [
  ['request_idx', `(request_id, occurred_at, id) WHERE request_id IS NOT NULL`],
  ['transaction_idx', `((metadata->>'transactionId')) WHERE metadata ? 'transactionId'`],
];

export class HistoryGrouping1795390000090 implements MigrationInterface {
  name = 'HistoryGrouping1795390000090';

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const [suffix, definition] of INDEXES) {
      await queryRunner.query(`CREATE INDEX audit_events_${suffix} ON audit_events ${definition}`);
      await queryRunner.query(`
        DO $$
        DECLARE part record;
        BEGIN
          FOR part IN SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                       WHERE i.inhparent = 'audit_events_warm'::regclass LOOP
            EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I ${definition.replace(/'/g, "''")}',
                           left(part.relname, 40) || '_${suffix}', part.relname);
          END LOOP;
        END $$`);
    }
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const [suffix] of INDEXES) {
      await queryRunner.query(`DROP INDEX IF EXISTS audit_events_${suffix}`);
      await queryRunner.query(`
        DO $$
        DECLARE part record;
        BEGIN
          FOR part IN SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                       WHERE i.inhparent = 'audit_events_warm'::regclass LOOP
            EXECUTE format('DROP INDEX IF EXISTS %I', left(part.relname, 40) || '_${suffix}');
          END LOOP;
        END $$`);
    }
  }
}
