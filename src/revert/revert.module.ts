import { DynamicModule, Module, Type } from '@nestjs/common';
import { RevertRepository } from './revert.repository';
import { AuditRevertService } from './revert.service';
import { AUDIT_REVERT_HANDLERS, RegisteredRevertHandler } from './revert.tokens';
import { AuditRevertHandler, AuditRevertHandlerRegistration, AuditRevertOptions } from './revert.types';

/**
 * `AuditRevertService` with the app's handlers. The handler classes are providers of this module, so they
 * inject whatever the modules in `imports` export (the app's own services). `AuditAdminModule.forRoot({
 * revert })` imports it (and re-exports the service); import it yourself where there is no admin API (a
 * worker). Needs `AuditModule.forRoot()` and TypeORM's DataSource.
 */
@Module({})
export class AuditRevertModule {
  static forRoot(options: AuditRevertOptions = {}): DynamicModule {
    const entries = Object.entries(options.handlers ?? {}).map(
      ([type, value]): [string, AuditRevertHandlerRegistration] => {
        const registration = typeof value === 'function' ? { handler: value } : value;
        if (!type || typeof registration?.handler !== 'function') {
          throw new Error(`revert.handlers['${type}'] must be a handler class or { handler, fields }`);
        }
        return [type, registration];
      },
    );
    const classes: Type<AuditRevertHandler>[] = [...new Set(entries.map(([, r]) => r.handler))];
    return {
      module: AuditRevertModule,
      imports: options.imports ?? [],
      providers: [
        ...classes,
        RevertRepository,
        AuditRevertService,
        {
          provide: AUDIT_REVERT_HANDLERS,
          useFactory: (...instances: AuditRevertHandler[]) =>
            new Map<string, RegisteredRevertHandler>(
              entries.map(([type, registration]) => {
                const handler = instances[classes.indexOf(registration.handler)];
                if (typeof handler?.revert !== 'function') {
                  throw new Error(
                    `revert.handlers['${type}']: ${registration.handler.name} has no revert() method`,
                  );
                }
                return [type, { handler, fields: registration.fields }];
              }),
            ),
          inject: classes,
        },
      ],
      exports: [AuditRevertService],
    };
  }
}
