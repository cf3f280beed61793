import { Global, Module } from '@nestjs/common';
import { AppConfig, loadConfig } from './environment';

export const APP_CONFIG = Symbol('APP_CONFIG');

/** Makes the validated environment configuration injectable as `@Inject(APP_CONFIG)` (the demo, the CLIs). */
@Global()
@Module({})
export class AppConfigModule {
  static forRoot(config: AppConfig = loadConfig()) {
    return {
      module: AppConfigModule,
      providers: [{ provide: APP_CONFIG, useValue: config }],
      exports: [APP_CONFIG],
    };
  }
}
