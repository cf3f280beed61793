import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { databaseErrorFields, describeDatabaseError } from '../database/safe-query.logger';

/**
 * HTTP errors pass through unchanged; anything else becomes a generic 500 carrying the request id, so a
 * stack trace or a SQL fragment never reaches the client. The log line says what failed without any value
 * of the request: a database error by its SQLSTATE, table and constraint (its message and `detail` quote
 * values), any other error by its name and stack frames (its message may hold request data).
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
    // The route pattern, not the path: a path can carry an email or a token.
    const route = (request.route as { path?: string } | undefined)?.path ?? '(no route)';
    this.logger.error(
      `Unhandled error on ${request.method} ${route} (request ${request.requestId ?? '-'}): ${describe(exception)}`,
    );
    response.status(HttpStatus.INTERNAL_SERVER_ERROR).json({
      statusCode: 500,
      message: 'Internal server error',
      requestId: request.requestId,
    });
  }
}

/** An unhandled error without its message: SQLSTATE and names for a database error, else name and frames. */
function describe(exception: unknown): string {
  const fields = databaseErrorFields(exception);
  if (fields) return `database error ${describeDatabaseError(fields)}`;
  if (!(exception instanceof Error)) return `non-Error value thrown (${typeof exception})`;
  const frames = (exception.stack ?? '')
    .split('\n')
    .filter((line) => line.startsWith('    at '))
    .join('\n');
  return frames ? `${exception.name}\n${frames}` : exception.name;
}
