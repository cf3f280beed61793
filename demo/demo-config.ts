import { Global, Module } from '@nestjs/common';
import { ServiceConfig } from 'nest-audit-trail';

/** The demo service's validated configuration, injectable as `@Inject(DEMO_CONFIG)`. */
export const DEMO_CONFIG = Symbol('DEMO_CONFIG');

@Global()
@Module({})
export class DemoConfigModule {
  static forRoot(config: ServiceConfig) {
    return {
      module: DemoConfigModule,
      providers: [{ provide: DEMO_CONFIG, useValue: config }],
      exports: [DEMO_CONFIG],
    };
  }
}
