import { DestinationFormat, FormattedEvent, StreamEvent } from '../streaming.types';
import { toCefLine } from './cef';
import { toJsonRecord } from './json';
import { toOcsfRecord } from './ocsf';

/** The events in the destination's format, in order. */
export function formatEvents(format: DestinationFormat, events: readonly StreamEvent[]): FormattedEvent[] {
  return events.map((source) => formatEvent(format, source));
}

export function formatEvent(format: DestinationFormat, source: StreamEvent): FormattedEvent {
  switch (format) {
    case 'json': {
      const record = toJsonRecord(source);
      return { source, record, text: JSON.stringify(record) };
    }
    case 'ocsf': {
      const record = toOcsfRecord(source);
      return { source, record, text: JSON.stringify(record) };
    }
    case 'cef':
      return { source, record: null, text: toCefLine(source) };
  }
}
