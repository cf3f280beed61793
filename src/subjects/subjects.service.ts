import { Injectable, NotFoundException, ServiceUnavailableException } from '@nestjs/common';
import { AuditService, PersonalDataService } from '../audit';
import { AuthUser } from '../common/auth/auth.types';
import { ErasureResultDto } from './dto/erase.dto';
import { SubjectsRepository } from './subjects.repository';

/** GDPR erasure: destroys a subject's keys (crypto-shredding) and records that it did. */
@Injectable()
export class SubjectsService {
  constructor(
    private readonly personal: PersonalDataService,
    private readonly audit: AuditService,
    private readonly subjects: SubjectsRepository,
  ) {}

  async erase(
    user: AuthUser,
    organizationId: string | null,
    subjectId: string,
    requestId?: string,
  ): Promise<ErasureResultDto> {
    if (!this.personal.enabled) {
      throw new ServiceUnavailableException('Personal data protection is off (AUDIT_PERSONAL_KEYS=off)');
    }
    // An organization with no events has no one to erase: recording the erasure would start its chain.
    if (organizationId && !(await this.subjects.organizationHasEvents(organizationId))) {
      throw new NotFoundException(`No events of organization ${organizationId}`);
    }
    const result = await this.personal.erase(organizationId, subjectId, user.sub);
    // An erasure is itself audited, durably ('erase' is a critical action): who erased whom, when.
    const event = await this.audit.recordDurable({
      action: 'erase',
      eventType: 'subject.erase',
      resourceType: 'subject',
      resourceId: subjectId,
      actor: { id: user.sub, organizationId, type: 'user' },
      requestId,
      severity: 'notice',
      metadata: { keysDestroyed: result.keysDestroyed },
    });
    return {
      organizationId: result.organizationId,
      subjectId: result.subjectId,
      keysDestroyed: result.keysDestroyed,
      erasedAt: result.erasedAt.toISOString(),
      eventId: event?.id ?? null,
    };
  }
}
