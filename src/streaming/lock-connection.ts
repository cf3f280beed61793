import { Client, Pool } from 'pg';

/** First key of the destinations' advisory locks (the second is derived from the destination id). */
const LOCK_NAMESPACE = 0x5354524d; // 'STRM'

/**
 * One connection of this process that holds its destinations' session advisory locks: a process delivers
 * a destination only while it holds its lock, and the lock goes when the process (or the connection) does.
 * A single connection however many destinations: a connection per held lock would starve the runs of the
 * connections they query with. When it drops, `generation` moves on: runs started under the lost locks stop.
 */
export class LockConnection {
  private client: Client | null = null;
  private connecting?: Promise<Client>;
  private generationCount = 0;
  /** One query at a time on the connection (pg deprecates queueing them on one client). */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly pool: Pool) {}

  get generation(): number {
    return this.generationCount;
  }

  tryLock(key: number): Promise<boolean> {
    return this.serially(async () => {
      const client = await this.connection();
      const { rows } = await client.query<{ locked: boolean }>(
        'SELECT pg_try_advisory_lock($1, $2) AS locked',
        [LOCK_NAMESPACE, key],
      );
      return rows[0].locked;
    });
  }

  unlock(key: number, generation: number): Promise<void> {
    return this.serially(async () => {
      if (generation !== this.generationCount || !this.client) return; // gone with the connection
      await this.client
        .query('SELECT pg_advisory_unlock($1, $2)', [LOCK_NAMESPACE, key])
        .catch(() => undefined);
    });
  }

  private serially<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = null;
    this.generationCount++;
    await client?.end().catch(() => undefined);
  }

  private connection(): Promise<Client> {
    if (this.client) return Promise.resolve(this.client);
    this.connecting ??= (async () => {
      // The pool's own connection settings, for a client that lives outside it.
      const client = new Client((this.pool as unknown as { options: object }).options);
      const lost = () => {
        if (this.client !== client) return;
        this.client = null;
        this.generationCount++;
      };
      client.on('error', lost);
      client.on('end', lost);
      await client.connect();
      this.client = client;
      return client;
    })().finally(() => (this.connecting = undefined));
    return this.connecting;
  }
}
