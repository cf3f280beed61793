import { DynamicModule, Module, Provider } from '@nestjs/common';
import { RouterModule } from '@nestjs/core';
import { ArchiveController } from '../archive';
import { ArchiveModule } from '../archive';
import { AUDIT_ACCESS, AuditAccessGuard, auditAccess } from '../common/auth/audit-access.guard';
import { JwtVerifier, JwtVerifierOptions } from '../common/auth/jwt-verifier';
import { IntegrityController } from '../integrity';
import { IntegrityCoreModule } from '../integrity';
import { PartitionsController } from '../partitions';
import { PartitionsModule } from '../partitions';
import { AuditRevertModule, AuditRevertOptions, RevertController } from '../revert';
import { ActorsController } from '../query';
import { AsOfController } from '../query';
import { EventsController } from '../query';
import { ExportController } from '../query';
import { QueryModule } from '../query';
import { ResourcesController } from '../query';
import { StatsController } from '../query';
import { RequestsController, TransactionsController } from '../query';
import { SubjectsController } from '../subjects';
import { SubjectsModule } from '../subjects';
import { MeController, ViewerController } from '../viewer';
import { DestinationsController, StreamingCoreModule } from '../streaming';

export interface AuditAdminModuleOptions {
  /** Route prefix of every admin endpoint (`<path>/events`, `<path>/export`...). Default `audit`. */
  path?: string;
  /**
   * Who calls, from the request: return `{ sub, org, roles }` (or null: 401). Default: `request.user`, as
   * the app's own guard or middleware (Passport, session, API gateway...) set it. Roles are `audit:read`,
   * `audit:read:all`, `audit:admin` (an organization's admin) and `audit:platform` (partitions, archives).
   * The app's own global guards run first, as for any of its routes.
   */
  identity?: (request: unknown) => unknown;
  /** Instead of `identity`: the built-in Bearer JWT check (claims `sub`, `org`, `roles`; `exp` required). */
  jwt?: JwtVerifierOptions;
  /**
   * Serve the audit viewer (a web page for the people who read the trail) at `<path>/ui`. Default true.
   * The page holds no data: it calls this API with the reader's own identity.
   */
  viewer?: boolean;
  /**
   * Reverts (`POST <path>/resources/:type/:id/revert`, `POST <path>/requests/:requestId/revert`, role
   * `audit:admin`): the app's handler per resource type, and the modules whose providers the handlers
   * inject. A type without a handler is answered 422. `AuditRevertService` is exported to the importing module.
   */
  revert?: AuditRevertOptions;
}

const CONTROLLERS = [
  EventsController,
  ResourcesController,
  AsOfController,
  ActorsController,
  StatsController,
  ExportController,
  IntegrityController,
  SubjectsController,
  PartitionsController,
  ArchiveController,
  MeController,
  RevertController,
  RequestsController,
  TransactionsController,
  DestinationsController,
];

/**
 * The admin API (search, history, activity, stats, export, integrity verify, erasure, reverts, partitions,
 * archives) and the viewer page mounted under the app's own prefix, behind the app's identity. Needs `AuditModule.forRoot()`.
 */
@Module({})
export class AuditAdminModule {
  static forRoot(options: AuditAdminModuleOptions = {}): DynamicModule {
    const path = (options.path ?? 'audit').replace(/^\/+|\/+$/g, '');
    const access: Provider = {
      provide: AUDIT_ACCESS,
      useFactory: () =>
        auditAccess({
          identity: options.identity,
          jwt: options.jwt ? new JwtVerifier(options.jwt) : undefined,
        }),
    };
    const revert = AuditRevertModule.forRoot(options.revert);
    return {
      module: AuditAdminModule,
      imports: [
        revert,
        QueryModule,
        PartitionsModule,
        ArchiveModule,
        IntegrityCoreModule,
        SubjectsModule,
        StreamingCoreModule,
        RouterModule.register([{ path, module: AuditAdminModule }]),
      ],
      controllers: options.viewer === false ? CONTROLLERS : [...CONTROLLERS, ViewerController],
      providers: [access, AuditAccessGuard],
      exports: [revert],
    };
  }
}
