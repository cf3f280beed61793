import { BadRequestException, Injectable, NotFoundException, PipeTransform } from '@nestjs/common';
import { MAX_TIMESTAMP, MIN_TIMESTAMP } from '../../common/validation';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * An event id path segment: a UUID (400 naming `id` otherwise). Event ids are UUIDv7, whose first 48 bits
 * are the event's millisecond, and the lookup is pinned to that millisecond; a UUID whose millisecond lies
 * outside 1970-9999 cannot be an event, so it is a 404 here, as any other unknown id, rather than a time
 * Postgres cannot read.
 */
@Injectable()
export class EventIdPipe implements PipeTransform<unknown, string> {
  transform(value: unknown): string {
    if (typeof value !== 'string' || !UUID.test(value)) throw new BadRequestException(['id must be a UUID']);
    const id = value.toLowerCase();
    const millis = parseInt(id.replace(/-/g, '').slice(0, 12), 16);
    if (millis < MIN_TIMESTAMP || millis > MAX_TIMESTAMP)
      throw new NotFoundException(`Event ${id} not found`);
    return id;
  }
}
