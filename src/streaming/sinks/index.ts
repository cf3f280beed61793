import { DestinationKind, SinkKind } from '../streaming.types';
import { datadogKind } from './datadog.sink';
import { natsKind } from './nats.sink';
import { s3Kind } from './s3.sink';
import { splunkHecKind } from './splunk-hec.sink';
import { syslogKind } from './syslog.sink';
import { webhookKind } from './webhook.sink';

/** Every destination kind. A new kind: a file in this folder exporting a SinkKind, listed here. */
export const SINK_KINDS: Record<DestinationKind, SinkKind> = {
  webhook: webhookKind,
  syslog: syslogKind,
  'splunk-hec': splunkHecKind,
  datadog: datadogKind,
  s3: s3Kind,
  nats: natsKind,
};
