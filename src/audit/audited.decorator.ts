import { applyDecorators, SetMetadata } from '@nestjs/common';
import { AUDITED_KEY } from './audit.constants';
import { AuditedOptions } from './audit.types';

/**
 * Audits a controller (every handler) or one handler: mutations with before/after state and diff, reads as
 * access events, failures too. Options on a handler are merged over those of its class.
 */
export function Audited(options: AuditedOptions = {}): ClassDecorator & MethodDecorator {
  return applyDecorators(SetMetadata(AUDITED_KEY, options));
}

/** Opts one handler of an `@Audited()` controller out of auditing. */
export function NoAudit(): MethodDecorator {
  return applyDecorators(SetMetadata(AUDITED_KEY, false));
}
