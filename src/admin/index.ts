/** The admin folder's face: the module that mounts the admin API. */
export { AuditAdminModule } from './audit-admin.module';
export type { AuditAdminModuleOptions } from './audit-admin.module';
