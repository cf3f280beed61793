/** The slot as the server reports it (pg_replication_slots). */
export interface WalSlotState {
  active: boolean;
  /** wal_status: reserved, extended, unreserved, lost (the slot can no longer be used). */
  walStatus: string | null;
  /** Bytes of WAL between the slot's confirmed position and now: what the consumer has not stored yet. */
  lagBytes: number;
  /** Bytes of WAL the slot keeps on the server's disk (from its restart position). */
  retainedBytes: number;
  /** Bytes of WAL the slot may still retain before max_slot_wal_keep_size invalidates it (null: unlimited). */
  safeBytes: number | null;
}

/** The slot as last read, and what is wrong with it (null: fine). */
export interface WalStatus {
  slot: string;
  consuming: boolean;
  state: WalSlotState | null;
  problem: string | null;
}
