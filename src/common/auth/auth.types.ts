/** The claims this service reads from a Bearer JWT. */
export interface AuthUser {
  sub: string;
  org: string | null;
  roles: string[];
}

export const ROLES = {
  read: 'audit:read',
  readAll: 'audit:read:all',
  admin: 'audit:admin',
} as const;
