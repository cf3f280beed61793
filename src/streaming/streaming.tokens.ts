/** The streaming tables' own small pool: delivery never waits on the app's or the writer's connections. */
export const AUDIT_STREAMING_POOL = Symbol('AUDIT_STREAMING_POOL');
