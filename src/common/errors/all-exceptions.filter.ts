import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';

/**
 * HTTP errors pass through unchanged; anything else becomes a generic 500 carrying the request id, so a
 * stack trace or a SQL fragment never reaches the client (it is logged instead).
 */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  catch(exception: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();
    const request = host.switchToHttp().getRequest<Request & { requestId?: string }>();
    if (response.headersSent) return;
    if (exception instanceof HttpException) {
      const body = exception.getResponse();
      response
        .status(exception.getStatus())
        .json(typeof body === 'string' ? { statusCode: exception.getStatus(), message: body } : body);
      return;
    }
    // body-parser errors (malformed JSON, too large) carry their own status.
    const status = (exception as { status?: number; type?: string })?.status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      response.status(status).json({ statusCode: status, message: (exception as Error).message });
      return;
    }
    this.logger.error(
      `Unhandled error on ${request.method} ${request.path} (request ${request.requestId ?? '-'}): ${
        exception instanceof Error ? (exception.stack ?? exception.message) : String(exception)
      }`,
    );
    response.status(HttpStatus.INTERNAL_SERVER_ERROR).json({
      statusCode: 500,
      message: 'Internal server error',
      requestId: request.requestId,
    });
  }
}
