/** The config folder's face to the rest of the package: what other folders may import. */
export { auditOptionsFromConfig, auditOptionsFromEnv, trailConfigFrom } from './audit-options-from-env';
export { AppConfig, ConfigError, loadConfig } from './environment';
