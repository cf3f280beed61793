import type { AuditEvent } from 'src/audit/audit.types';
import type { QueuedEvent } from 'src/audit/delivery/queued-event';

/** What the encoder thread is started with: the personal-data settings, so it encrypts as capture would. */
export interface EncoderWorkerData {
  personal: { encryptionKey: Uint8Array; keys: string[]; keyTtlMs: number } | null;
}

/** Main thread -> encoder thread, handled in order. */
export type EncoderRequest =
  | { kind: 'encode'; events: AuditEvent[] }
  /** Subject keys committed with their events: later events need not carry them. */
  | { kind: 'stored'; ids: string[] }
  /** The subject was erased: its next event gets a new key. */
  | { kind: 'forget'; organizationId: string | null; subjectId: string };

/** Encoder thread -> main thread: one reply per `encode` request, in order. */
export interface EncoderReply {
  events: QueuedEvent[];
  /** Why events of the request could not be encoded (a bug: logged and counted as dropped). */
  errors: string[];
}
