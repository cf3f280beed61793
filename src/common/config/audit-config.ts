import type { AppConfig } from './environment';

/** Injection token of the resolved AuditTrailConfig (registered globally by `AuditModule.forRoot()`). */
export const AUDIT_CONFIG = Symbol('AUDIT_CONFIG');

/**
 * What the admin API, the jobs and the health indicators read: the settings of the whole trail, resolved
 * once from `AuditModule.forRoot()` options (or from the environment, for the demo and the CLIs).
 */
export type AuditTrailConfig = Pick<AppConfig, 'redisUrl' | 'audit' | 'archive' | 'integrity' | 'query'> & {
  /** HMAC key of the admin API's opaque cursors. */
  cursorSecret: string;
};

/** The trail's part of the environment configuration (the demo service and the CLIs). */
export function trailConfigFrom(config: AppConfig): AuditTrailConfig {
  const { redisUrl, audit, archive, integrity, query } = config;
  return { redisUrl, audit, archive, integrity, query, cursorSecret: config.jwtSecret };
}
