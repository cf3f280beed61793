import { Injectable, NestMiddleware } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { REQUEST_ID_HEADER } from './audit.constants';
import { acceptRequestId } from './request-context';

export type RequestWithId = IncomingMessage & { requestId?: string };

/** Takes the caller's X-Request-Id (or makes one) and echoes it on every response, audited or not. */
@Injectable()
export class RequestIdMiddleware implements NestMiddleware {
  use(request: RequestWithId, response: ServerResponse, next: () => void): void {
    const id = acceptRequestId(request.headers[REQUEST_ID_HEADER]) ?? randomUUID();
    request.requestId = id;
    response.setHeader('X-Request-Id', id);
    next();
  }
}
