import { Global, Module } from '@nestjs/common';
import { AUDIT_CONFIG, trailConfigFrom } from './audit-config';
import { AppConfig, loadConfig } from './environment';

export const APP_CONFIG = Symbol('APP_CONFIG');

/** Makes the validated AppConfig (and the trail's part of it) injectable: `@Inject(APP_CONFIG)`. */
@Global()
@Module({})
export class AppConfigModule {
  static forRoot(config: AppConfig = loadConfig()) {
    return {
      module: AppConfigModule,
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: AUDIT_CONFIG, useValue: trailConfigFrom(config) },
      ],
      exports: [APP_CONFIG, AUDIT_CONFIG],
    };
  }
}
