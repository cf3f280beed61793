import { escapeLiteral } from 'pg';
import { IP_METADATA_KEY } from '../audit';

/** An event as the admin read queries return it (snake_case columns, the IP and metadata as shown). */
export interface EventRow {
  id: string;
  occurred_at: Date;
  occurred_at_text: string;
  organization_id: string | null;
  actor_id: string | null;
  actor_type: string;
  action: string;
  event_type: string;
  resource_type: string | null;
  resource_id: string | null;
  before: unknown;
  after: unknown;
  changes: unknown;
  status: string;
  status_code: number | null;
  error_message: string | null;
  severity: string;
  request_id: string | null;
  ip: string | null;
  user_agent: string | null;
  route: string | null;
  method: string | null;
  duration_ms: number | null;
  metadata: unknown;
}

/**
 * The client IP and the metadata as the API shows them. With personal-data protection the IP is stored
 * encrypted in `metadata."$ip"` (the `ip` column is inet): it comes back as `ip`, still as its token, which
 * PersonalDataService decrypts like every other personal value.
 */
const IP_KEY = escapeLiteral(IP_METADATA_KEY);
export const ipColumn = (t = '') => `COALESCE(host(${t}ip), ${t}metadata->>${IP_KEY})`;
export const metadataColumn = (t = '') =>
  `CASE WHEN ${t}metadata ? ${IP_KEY} THEN NULLIF(${t}metadata - ${IP_KEY}, '{}') ELSE ${t}metadata END`;

export const COLUMNS = `id, occurred_at, occurred_at::text AS occurred_at_text, organization_id, actor_id, actor_type, action,
  event_type, resource_type, resource_id, before, after, changes, status, status_code, error_message, severity,
  request_id, ${ipColumn()} AS ip, user_agent, route, method, duration_ms, ${metadataColumn()} AS metadata`;
/** The columns of an EventRow (the streamer reads the trail with them too). */
export const EVENT_ROW_COLUMNS = COLUMNS;
