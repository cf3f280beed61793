import { Injectable, NestMiddleware } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { v7 as uuidv7 } from 'uuid';
import { REQUEST_ID_HEADER } from 'src/audit/audit.constants';
import { acceptRequestId } from 'src/audit/request-context';

export type RequestWithId = IncomingMessage & { requestId?: string };

/** Takes the caller's X-Request-Id (or makes one) and echoes it on every response, audited or not. */
@Injectable()
export class RequestIdMiddleware implements NestMiddleware {
  use(request: RequestWithId, response: ServerResponse, next: () => void): void {
    const id = acceptRequestId(request.headers[REQUEST_ID_HEADER]) ?? uuidv7();
    request.requestId = id;
    response.setHeader('X-Request-Id', id);
    next();
  }
}
