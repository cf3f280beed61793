/**
 * Preloaded (`node --require`) into a memory-mode service by `bench:compare -- --stages`: stops the capture
 * pipeline after one stage, so the runs show what each stage costs under the same load. The service is
 * otherwise the real one (interceptor, handler-state watch, writer). BENCH_CAPTURE_STAGE:
 * - `none`: the interceptor and the watch run, no event is built;
 * - `build`: the event is built (request context, redaction, diff) and dropped;
 * - `encode`: it is also encrypted (personal data) and encoded to its COPY line with its hash, and dropped.
 * Benchmark-only: the service has no switch for this.
 */
import { AuditDelivery } from '../../src/audit/audit-delivery.service';
import { toQueued } from '../../src/audit/audit-writer.service';
import { AuditInterceptor } from '../../src/audit/audit.interceptor';
import { AuditEvent } from '../../src/audit/audit.types';
import { PersonalDataService } from '../../src/audit/personal-data/personal-data.service';

const stage = process.env.BENCH_CAPTURE_STAGE;

if (stage === 'none') {
  (AuditInterceptor.prototype as unknown as { capture: () => boolean }).capture = () => true;
} else if (stage === 'build') {
  AuditDelivery.prototype.submit = () => true;
} else if (stage === 'encode') {
  AuditDelivery.prototype.submit = function (this: AuditDelivery, event: AuditEvent) {
    // The first two steps of the real submit(): encryption, then the COPY line.
    const personal = (this as unknown as { personal: PersonalDataService }).personal;
    const { event: stored, keys } = personal.protect(event);
    return toQueued(stored, keys).line.length > 0;
  };
} else if (stage !== undefined) {
  throw new Error(`BENCH_CAPTURE_STAGE must be none, build or encode (got ${stage})`);
}
