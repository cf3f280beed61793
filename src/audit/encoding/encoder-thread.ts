import { existsSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { ResolvedPersonalDataOptions } from 'src/audit/audit-options';
import type { AuditEvent } from 'src/audit/audit.types';
import type { QueuedEvent } from 'src/audit/delivery/queued-event';
import { EncoderReply, EncoderRequest, EncoderWorkerData } from 'src/audit/encoding/encoder-protocol';

export interface EncoderThreadHandlers {
  /** Events back from the thread, encoded, in the order they were sent. */
  encoded(events: QueuedEvent[]): void;
  /** Events the thread could not encode (a bug), one message each. */
  failed(errors: string[]): void;
  /** The thread died: `count` events sent to it are gone; later events must be encoded by the caller. */
  died(count: number, error: Error): void;
}

/**
 * Encrypting personal data and encoding an event to its COPY line (JSONB text, the SHA-256 event hash) is
 * most of what capture costs, and it runs on the thread that also serves every request. This moves it to a
 * worker thread: events captured in one turn of the event loop are sent together (one message), and come
 * back encoded for the writer's buffer. The request thread's cost per event drops to copying it into the
 * message. Only for events the writer buffers anyway (memory mode, not critical): nothing waits on it.
 *
 * The thread has subject keys of its own (as another replica would): `stored` and `forget` keep its keyring
 * in step with commits and erasures.
 */
export class EncoderThread {
  private readonly worker: Worker;
  private outgoing: AuditEvent[] = [];
  private scheduled = false;
  /** The encode requests not yet answered, oldest first: size, and when their first event was accepted. */
  private readonly sent: Array<{ count: number; since: number }> = [];
  private outgoingSince = 0;
  private waiting = 0;
  private alive = true;
  private closing = false;

  constructor(
    personal: ResolvedPersonalDataOptions | null,
    private readonly handlers: EncoderThreadHandlers,
  ) {
    const workerData: EncoderWorkerData = {
      personal: personal && {
        encryptionKey: new Uint8Array(personal.encryptionKey),
        keys: personal.keys,
        keyTtlMs: personal.keyTtlMs,
      },
    };
    this.worker = new Worker(workerScript(), { workerData });
    this.worker.on('message', (reply: EncoderReply) => this.received(reply));
    this.worker.on('error', (error) => this.die(error));
    this.worker.on('exit', (code) => {
      if (!this.closing) this.die(new Error(`encoder thread exited with code ${code}`));
    });
  }

  /** False once the thread has died: the caller encodes on its own thread from then on. */
  get running(): boolean {
    return this.alive;
  }

  /** Events accepted and not yet handed back. */
  get pending(): number {
    return this.waiting;
  }

  /** When the oldest event still here was accepted (epoch ms), Infinity when none. */
  get oldestAcceptedAt(): number {
    return this.sent[0]?.since ?? (this.outgoing.length > 0 ? this.outgoingSince : Infinity);
  }

  encode(event: AuditEvent): void {
    if (this.outgoing.length === 0) this.outgoingSince = Date.now();
    this.outgoing.push(event);
    this.waiting++;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.send());
    }
  }

  markStored(ids: string[]): void {
    this.request({ kind: 'stored', ids });
  }

  /** Events captured before the erasure still use the erased key: they are sent first. */
  forget(organizationId: string | null, subjectId: string): void {
    this.send();
    this.request({ kind: 'forget', organizationId, subjectId });
  }

  async close(): Promise<void> {
    this.closing = true;
    this.alive = false;
    await this.worker.terminate();
  }

  private send(): void {
    this.scheduled = false;
    if (this.outgoing.length === 0 || !this.alive) return;
    const events = this.outgoing;
    this.outgoing = [];
    this.sent.push({ count: events.length, since: this.outgoingSince });
    this.request({ kind: 'encode', events });
  }

  private request(request: EncoderRequest): void {
    if (this.alive) this.worker.postMessage(request);
  }

  private received(reply: EncoderReply): void {
    this.waiting -= this.sent.shift()?.count ?? 0;
    if (reply.events.length > 0) this.handlers.encoded(reply.events);
    if (reply.errors.length > 0) this.handlers.failed(reply.errors);
  }

  private die(error: Error): void {
    if (!this.alive) return;
    this.alive = false;
    const lost = this.waiting;
    this.waiting = 0;
    this.outgoing = [];
    this.sent.length = 0;
    this.handlers.died(lost, error);
  }
}

/**
 * The built worker next to this file. Under Jest the sources run as TypeScript and a worker cannot load
 * them: it then runs the same file from the build (`dist/`, which `npm test` makes first).
 */
function workerScript(): string {
  const built = join(__dirname, 'encoder.worker.js');
  if (existsSync(built)) return built;
  const root = resolve(__dirname, '..', '..', '..');
  const fromBuild = join(root, 'dist', relative(root, __dirname), 'encoder.worker.js');
  if (existsSync(fromBuild)) return fromBuild;
  throw new Error(`The audit encoder thread's script is missing (${built}); run npm run build`);
}
