export const AUDITED_KEY = 'audit:audited';
/** The resolved module options (defaults merged). */
export const AUDIT_OPTIONS = Symbol('AUDIT_OPTIONS');
/** The writer's own pg Pool: COPY never competes with the app's connections. */
export const AUDIT_PG_POOL = Symbol('AUDIT_PG_POOL');
export const REQUEST_ID_HEADER = 'x-request-id';
