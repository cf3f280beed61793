/** The jobs folder's face: the module of the scheduled jobs. */
export { AuditJobsModule } from './audit-jobs.module';
