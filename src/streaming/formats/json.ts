import { StreamEvent } from '../streaming.types';

/**
 * Our own JSON event: the admin API's event shape (README, Admin API), plus `chainSeq`, the sequence number
 * of the organization's seal that covers it: a receiver sorts or checks for gaps per organization with it.
 */
export function toJsonRecord({ event, sealSeq }: StreamEvent): Record<string, unknown> {
  return { ...event, chainSeq: sealSeq };
}
