import { parentPort, workerData } from 'node:worker_threads';
import type { AuditEvent } from 'src/audit/audit.types';
import { QueuedEvent } from 'src/audit/delivery/queued-event';
import { EncoderReply, EncoderRequest, EncoderWorkerData } from 'src/audit/encoding/encoder-protocol';
import { queueEvent } from 'src/audit/encoding/queue-event';
import { PersonalDataProtector } from 'src/audit/personal-data/personal-data.protector';
import { SubjectKeyring } from 'src/audit/personal-data/subject-keyring';

/**
 * The encoder thread (see encoder-thread.ts): encrypts the personal data of the events it is sent, with
 * subject keys of its own, and encodes each to its COPY line with its event hash.
 */
const { personal } = workerData as EncoderWorkerData;
const keyring = personal ? new SubjectKeyring(Buffer.from(personal.encryptionKey), personal.keyTtlMs) : null;
const protector = keyring ? new PersonalDataProtector(keyring, personal!.keys) : null;

parentPort!.on('message', (request: EncoderRequest) => {
  switch (request.kind) {
    case 'encode':
      parentPort!.postMessage(encodeAll(request.events));
      return;
    case 'stored':
      keyring?.markStored(request.ids);
      return;
    case 'forget':
      keyring?.forget(request.organizationId, request.subjectId);
      return;
  }
});

function encodeAll(events: AuditEvent[]): EncoderReply {
  const reply: EncoderReply = { events: [] as QueuedEvent[], errors: [] };
  for (const event of events) {
    try {
      reply.events.push(queueEvent(protector, event));
    } catch (error) {
      reply.errors.push(`event ${event.id}: ${(error as Error).message}`);
    }
  }
  return reply;
}
