import {
  ConflictException,
  HttpException,
  NotFoundException,
  UnprocessableEntityException,
} from '@nestjs/common';

export enum ArchiveErrorCode {
  NotFound = 'ARCHIVE_NOT_FOUND',
  NotRestorable = 'ARCHIVE_NOT_RESTORABLE',
  /** The stored file or manifest does not match the recorded checksum: never loaded. */
  Tampered = 'ARCHIVE_TAMPERED',
}

export class ArchiveError extends Error {
  constructor(
    readonly code: ArchiveErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ArchiveError';
  }

  /** The HTTP shape of the error (the message names the archive, never SQL or paths). */
  toHttp(): HttpException {
    const body = { statusCode: 0, code: this.code, message: this.message };
    if (this.code === ArchiveErrorCode.NotFound) return new NotFoundException({ ...body, statusCode: 404 });
    if (this.code === ArchiveErrorCode.NotRestorable)
      return new ConflictException({ ...body, statusCode: 409 });
    return new UnprocessableEntityException({ ...body, statusCode: 422 });
  }
}
