import { ConflictException, HttpException } from '@nestjs/common';
import { MAX_EVENTS_SINCE } from './revert.repository';
import { RevertPlan } from './revert.types';

/** The messages of a revert's refusals: each names the resource, the event or the field concerned. */

export function httpMessage(error: HttpException): string {
  const body = error.getResponse();
  if (typeof body === 'string') return body;
  const message = (body as { message?: unknown }).message;
  if (Array.isArray(message)) return message.map(String).join('; ');
  return typeof message === 'string' ? message : error.message;
}

export function nothingToRevert(plan: RevertPlan): ConflictException {
  const skipped = plan.skipped.map((s) => `${s.path} (${s.why})`).join(', ');
  return new ConflictException(
    `Nothing to revert on ${plan.resourceType} ${plan.resourceId}: ${
      skipped ? `no restorable field differs (skipped: ${skipped})` : 'it already is in that state'
    }`,
  );
}

export function tooManyEvents(resourceType: string, resourceId: string): ConflictException {
  return new ConflictException(
    `${resourceType} ${resourceId} has more than ${MAX_EVENTS_SINCE} changes since that event: revert to a later one first`,
  );
}

export function truncated(resourceType: string, resourceId: string, eventId: string): ConflictException {
  return new ConflictException(
    `A state of ${resourceType} ${resourceId} (event ${eventId}) was too large and stored truncated: it cannot be restored`,
  );
}
