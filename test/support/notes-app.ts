import {
  CanActivate,
  Controller,
  Delete,
  ExecutionContext,
  INestApplication,
  Injectable,
  Module,
  Param,
  Post,
  UseGuards,
} from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Audited, AuditModule, AuditModuleOptions, AuditService } from '../../src/audit';
import { dataSourceOptions } from '../../demo/data-source-options';

/**
 * A tiny audited app whose own data does not live in Postgres (notes in memory), for the delivery and
 * outage tests: its routes keep answering while Postgres is down, as an audited service's would.
 */
@Injectable()
class FixedActor implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    context.switchToHttp().getRequest().user = { id: 'u-notes', organizationId: 'org-notes' };
    return true;
  }
}

@Controller('notes')
@UseGuards(FixedActor)
@Audited({ resourceType: 'note' })
class NotesController {
  private next = 0;

  @Post()
  create() {
    return { id: `n${++this.next}` };
  }

  @Delete(':id')
  remove(@Param('id') id: string) {
    return { id, deleted: true };
  }
}

/** Same, but a lost audit event fails the request (503) instead of being counted. */
@Controller('strict-notes')
@UseGuards(FixedActor)
@Audited({ resourceType: 'note', onUndelivered: 'fail' })
class StrictNotesController {
  constructor(private readonly audit: AuditService) {}

  @Post()
  create() {
    return { id: 'strict' };
  }

  /** Other work fills the audit buffer while this handler runs: 30 events of its own before it returns. */
  @Post('crowded')
  crowded() {
    for (let i = 0; i < 30; i++) this.audit.record({ action: 'crowd', resourceType: 'note' });
    return { id: 'crowded' };
  }
}

export async function startNotesApp(
  databaseUrl: string,
  options: AuditModuleOptions = {},
): Promise<INestApplication> {
  @Module({
    imports: [
      TypeOrmModule.forRoot(dataSourceOptions(databaseUrl)),
      AuditModule.forRoot({
        flushIntervalMs: 50,
        spool: { directory: mkdtempSync(join(tmpdir(), 'audit-spool-')) },
        ...options,
      }),
    ],
    controllers: [NotesController, StrictNotesController],
    providers: [FixedActor],
  })
  class NotesModule {}

  const moduleRef = await Test.createTestingModule({ imports: [NotesModule] }).compile();
  const app = moduleRef.createNestApplication({ logger: ['error'] });
  await app.init();
  return app;
}
