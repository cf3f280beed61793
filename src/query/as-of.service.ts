import { BadRequestException, Injectable } from '@nestjs/common';
import { diffStates, FieldChange, JsonValue, PersonalDataService } from '../audit';
import { AuthUser } from '../common/auth/auth.types';
import { organizationScope } from '../common/auth/tenant-scope';
import { parseIsoTimestamp } from '../common/validation';
import { AsOfRepository, ResourceScope, StateEventRow } from './as-of.repository';
import { foldSteps } from './as-of.state';

export interface AsOfVersion {
  eventId: string;
  occurredAt: string;
  action: string;
  actorId: string | null;
}

export interface AsOf {
  resourceType: string;
  resourceId: string;
  at: string;
  exists: boolean;
  state: unknown;
  version: AsOfVersion | null;
  versionsBefore: number;
  reason?: 'no history before at' | 'deleted';
}

export interface AsOfDiff {
  from: AsOf;
  to: AsOf;
  changes: FieldChange[];
}

/** The first read takes the newest state-bearing event only: usually it holds the whole state. */
const FIRST_BATCH = 1;
/** Then, while only partial steps were read, older events by this many. */
const NEXT_BATCH = 100;
/** How far back partial steps are followed before giving up on a full state (they then apply to nothing). */
const MAX_STEPS = 10_000;

/**
 * A resource's state at an instant, rebuilt from its trail: the newest state-bearing event at or before the
 * instant (one backward probe of the resource index), and, when that event holds only part of the state,
 * the older ones back to the nearest full state (see as-of.state.ts). Personal values are decrypted exactly
 * as the events API shows them (`[erased]` once erased); the state never carries a ciphertext token.
 */
@Injectable()
export class AsOfService {
  constructor(
    private readonly repository: AsOfRepository,
    private readonly personal: PersonalDataService,
  ) {}

  /** GET resources/:type/:id/as-of, tenant-scoped like the history. */
  async asOf(
    user: AuthUser,
    resourceType: string,
    resourceId: string,
    at: string,
    organizationId?: string,
  ): Promise<AsOf> {
    const scope = { organizationId: organizationScope(user, organizationId), resourceType, resourceId };
    const [state] = await this.reveal([await this.stateAt(scope, timeOf(at, 'at'))]);
    return state;
  }

  /** GET resources/:type/:id/diff: both states, and the field changes from one to the other. */
  async diff(
    user: AuthUser,
    resourceType: string,
    resourceId: string,
    from: string,
    to: string,
    organizationId?: string,
  ): Promise<AsOfDiff> {
    const [fromTime, toTime] = [timeOf(from, 'from'), timeOf(to, 'to')];
    if (fromTime >= toTime) throw new BadRequestException(['from must be before to']);
    const scope = { organizationId: organizationScope(user, organizationId), resourceType, resourceId };
    return this.diffBetween(scope, fromTime, toTime);
  }

  /** The diff of two instants, without the caller's scope check (the benchmark calls it directly). */
  async diffBetween(scope: ResourceScope, from: Date, to: Date): Promise<AsOfDiff> {
    const states = await Promise.all([this.stateAt(scope, from), this.stateAt(scope, to)]);
    // Decrypted together (one key query), and diffed decrypted: two events encrypt one value differently.
    const [before, after] = await this.reveal(states);
    const changes =
      before.exists || after.exists
        ? diffStates((before.state ?? {}) as JsonValue, (after.state ?? {}) as JsonValue)
        : [];
    return { from: before, to: after, changes };
  }

  /** The state at `at` as stored (personal values still encrypted). */
  async stateAt(scope: ResourceScope, at: Date): Promise<AsOf> {
    // The count runs beside the probe, on its own connection: it is the only part that grows with history.
    const [versionsBefore, rows] = await Promise.all([
      this.repository.countStateEvents(scope, at),
      this.repository.newestStateEvents(scope, at, FIRST_BATCH),
    ]);
    const base = { resourceType: scope.resourceType, resourceId: scope.resourceId, at: at.toISOString() };
    const newest = rows[0];
    if (!newest) {
      return {
        ...base,
        exists: false,
        state: null,
        version: null,
        versionsBefore,
        reason: 'no history before at',
      };
    }
    let folded = foldSteps(rows);
    while (!folded.complete && rows.length < MAX_STEPS) {
      const last = rows[rows.length - 1];
      const older = await this.repository.newestStateEvents(scope, at, NEXT_BATCH, {
        occurredAt: last.occurred_at_text,
        id: last.id,
      });
      if (older.length === 0) break;
      rows.push(...older);
      folded = foldSteps(rows);
    }
    const exists = folded.state !== null && folded.state !== undefined;
    return {
      ...base,
      exists,
      state: exists ? folded.state : null,
      version: versionOf(newest),
      versionsBefore,
      ...(exists ? {} : { reason: 'deleted' as const }),
    };
  }

  private async reveal(states: AsOf[]): Promise<AsOf[]> {
    const revealed = await this.personal.reveal(
      states.map((s) => ({ ip: null, before: null, after: s.state, changes: null, metadata: null })),
    );
    return states.map((s, i) => ({ ...s, state: revealed[i].after }));
  }
}

function versionOf(row: StateEventRow): AsOfVersion {
  return {
    eventId: row.id,
    occurredAt: row.occurred_at.toISOString(),
    action: row.action,
    actorId: row.actor_id,
  };
}

/** A time the DTO already checked: a 400 naming the field if it is somehow not one. */
function timeOf(value: string, field: string): Date {
  const time = parseIsoTimestamp(value);
  if (!time) throw new BadRequestException([`${field} must be an ISO 8601 date or date-time`]);
  return time;
}
