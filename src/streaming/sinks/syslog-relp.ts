import type { Socket } from 'node:net';
import { DeliveryError } from '../streaming.types';

/**
 * The client side of RELP (the Reliable Event Logging Protocol, rsyslog's imrelp / librelp), enough for a
 * batch: `open`, one `syslog` command per message, `close`. A frame is `TXNR SP COMMAND SP DATALEN [SP DATA]
 * LF`; the server answers each command with `TXNR rsp DATALEN 200 OK...` once it has taken the message into its
 * queue. Commands are pipelined; the batch is confirmed when every message has its 200. No npm RELP client is
 * kept up (the one on the registry is a 0.0.1 placeholder), and this part of the protocol is small.
 */

const TXNR_MAX = 999_999_999;
const OFFERS = 'relp_version=0\nrelp_software=nest-audit-trail\ncommands=syslog';

/** One RELP frame as written on the wire. */
export function relpFrame(txnr: number, command: string, data: Buffer | string = ''): Buffer {
  const body = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const head = Buffer.from(`${txnr} ${command} ${body.length}${body.length ? ' ' : ''}`, 'ascii');
  return Buffer.concat([head, body, Buffer.from('\n', 'ascii')]);
}

export interface RelpResponse {
  txnr: number;
  command: string;
  data: string;
}

/** Reads frames from a byte stream as they complete (frames may span or share chunks). */
export class RelpReader {
  private pending: Buffer = Buffer.alloc(0);

  /** The frames completed by this chunk; throws on bytes that are no RELP frame. */
  push(chunk: Buffer): RelpResponse[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const frames: RelpResponse[] = [];
    for (;;) {
      const head = /^(\d{1,9}) ([a-z]{1,32}) (\d{1,9})([ \n])/.exec(
        this.pending.subarray(0, 64).toString('latin1'),
      );
      if (!head) {
        if (this.pending.length >= 64 || /[^0-9a-z \n]/.test(this.pending.toString('latin1')))
          throw new Error(`not a RELP frame: ${JSON.stringify(this.pending.subarray(0, 40).toString())}`);
        return frames;
      }
      const length = Number(head[3]);
      const start = head[0].length;
      // DATALEN 0 ends with the LF matched above; otherwise SP, DATA, LF.
      const end = length === 0 ? start : start + length + 1;
      if (length === 0 && head[4] !== '\n') throw new Error('RELP frame with DATALEN 0 but data');
      if (this.pending.length < end) return frames;
      if (length > 0 && this.pending[end - 1] !== 0x0a) throw new Error('RELP frame without its trailer');
      frames.push({
        txnr: Number(head[1]),
        command: head[2],
        data: this.pending.subarray(start, start + length).toString('utf8'),
      });
      this.pending = this.pending.subarray(end);
    }
  }
}

/**
 * One RELP session on a connected (or connecting) socket: open, every message as a `syslog` command,
 * resolved when the server answered 200 to each, then close. Anything else rejects: a refused `open` is a
 * `pause` (this server does not speak RELP the way we do); a non-200 answer, `serverclose`, a connection lost
 * or a timeout before every answer is a `retry` of the whole batch (receivers dedupe by the event id).
 */
export function relpExchange(
  socket: Socket,
  messages: readonly Buffer[],
  options: { target: string; timeoutMs: number; connectEvent: 'connect' | 'secureConnect' },
  failure: (error: unknown) => DeliveryError,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const reader = new RelpReader();
    const awaiting = new Set<number>();
    let phase = 'while connecting';
    let opened = false;
    let settled = false;
    const settle = (error?: DeliveryError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) {
        socket.destroy();
        reject(error);
        return;
      }
      // Every message is acknowledged: say goodbye, without waiting for it.
      socket.end(relpFrame(txnrAfter(messages.length + 1), 'close'));
      resolve();
    };
    const fail = (message: string, kind: 'retry' | 'pause' = 'retry') =>
      settle(new DeliveryError(`syslog ${options.target} (RELP): ${message}`, kind));
    const timer = setTimeout(
      () => fail(`timed out after ${options.timeoutMs} ms ${phase}`),
      options.timeoutMs,
    );

    socket.once(options.connectEvent, () => {
      phase = 'waiting for the answer to open';
      socket.write(relpFrame(1, 'open', OFFERS));
    });
    socket.on('data', (chunk: Buffer) => {
      let frames: RelpResponse[];
      try {
        frames = reader.push(chunk);
      } catch (error) {
        return fail(`${(error as Error).message}; is the port a RELP listener (imrelp)?`, 'pause');
      }
      for (const frame of frames) {
        if (settled) return;
        if (frame.command === 'serverclose') return fail('the server closed the session (serverclose)');
        if (frame.command !== 'rsp') return fail(`unexpected ${frame.command} from the server`);
        const ok = /^200( |$|\n)/.test(frame.data);
        if (!opened) {
          if (frame.txnr !== 1 || !ok)
            return fail(`the server refused to open a session: ${frame.data.slice(0, 200)}`, 'pause');
          opened = true;
          phase = `waiting for the receiver to acknowledge ${messages.length} messages`;
          const frames = messages.map((message, i) => {
            awaiting.add(txnrAfter(i + 1));
            return relpFrame(txnrAfter(i + 1), 'syslog', message);
          });
          socket.write(Buffer.concat(frames));
          continue;
        }
        if (!awaiting.delete(frame.txnr)) return fail(`an answer to no pending command (txnr ${frame.txnr})`);
        if (!ok) return fail(`the receiver refused a message: ${frame.data.slice(0, 200)}`);
        if (awaiting.size === 0) return settle();
      }
    });
    socket.on('error', (error) => settle(failure(error)));
    socket.on('close', () =>
      fail(`the connection closed ${phase} (${awaiting.size} of ${messages.length} not acknowledged)`),
    );
  });
}

/** The txnr `n` commands after `open` (txnr 1): numbers run 1..999999999 and wrap to 1. */
function txnrAfter(n: number): number {
  return (n % TXNR_MAX) + 1;
}
