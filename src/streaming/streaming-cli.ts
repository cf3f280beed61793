import { Pool } from 'pg';
import { DestinationsRepository } from './destinations.repository';
import { lagSeconds } from './destinations.service';

/**
 * The CLI's streaming commands (`nest-audit-trail destinations | replay`), on a plain pool: an operator
 * sees every destination's status and sends dead letters again without the admin API.
 */
export async function destinationsStatus(pool: Pool) {
  const repository = new DestinationsRepository(pool);
  const rows = await repository.list();
  const ids = rows.map((row) => row.id);
  const [backlogs, deadLetters] = await Promise.all([
    repository.backlogs(ids),
    repository.countDeadLetters(ids),
  ]);
  return rows.map((row) => ({
    id: row.id,
    name: row.name,
    organizationId: row.organizationId,
    kind: row.kind,
    format: row.format,
    source: row.source,
    state: row.state,
    reason: row.stateReason,
    lagSeconds: lagSeconds(backlogs.get(row.id)),
    pendingEvents: backlogs.get(row.id)?.pendingEvents ?? 0,
    deliveredEvents: Number(row.deliveredEvents),
    deadLetters: deadLetters.get(row.id) ?? 0,
    lastSuccessAt: row.lastSuccessAt?.toISOString() ?? null,
    lastError: row.lastError,
  }));
}

/**
 * Marks a destination's dead letters (all, or these ids) to be sent again by the streamer's next run.
 * The destination by id, or by name (with `organizationId` when several organizations use the name).
 */
export async function requestReplay(
  pool: Pool,
  destination: string,
  options: { organizationId?: string; ids?: string[] } = {},
): Promise<{ destination: string; requested: number }> {
  const repository = new DestinationsRepository(pool);
  const rows = (await repository.list()).filter(
    (row) =>
      row.id === destination ||
      (row.name === destination &&
        (options.organizationId === undefined || row.organizationId === options.organizationId)),
  );
  if (rows.length === 0) throw new StreamingCliError(`No destination ${destination}`);
  if (rows.length > 1)
    throw new StreamingCliError(`${rows.length} destinations are named ${destination}: give --org or the id`);
  const ids = options.ids?.map((id) => {
    if (!/^\d{1,18}$/.test(id)) throw new StreamingCliError(`--ids: ${id} is not a dead-letter id`);
    return id;
  });
  return { destination: rows[0].id, requested: await repository.requestReplay(rows[0].id, ids) };
}

export class StreamingCliError extends Error {}
