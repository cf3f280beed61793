/** Who calls the admin API: what the identity resolver (or the built-in JWT check) yields. */
export interface AuthUser {
  /** The actor: a user or service id. */
  sub: string;
  /** The caller's organization (tenant); null for a platform operator with no organization. */
  org: string | null;
  roles: string[];
}

/** The admin API's roles. Organization roles act on the caller's own organization only. */
export const ROLES = {
  /** Read the caller's organization's trail. */
  read: 'audit:read',
  /** Read every organization's trail. */
  readAll: 'audit:read:all',
  /** An organization's administrator: its trail, its erasures, its integrity. */
  admin: 'audit:admin',
  /** Platform operator: operations that span organizations (partitions, archives). */
  platform: 'audit:platform',
} as const;
