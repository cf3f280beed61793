import { CreateAccounts1795390000001 } from './1795390000001-CreateAccounts';

/** The demo domain's own tables (the audit schema's migrations come from the package). */
export const DEMO_MIGRATIONS = [CreateAccounts1795390000001];
