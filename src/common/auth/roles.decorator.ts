import { SetMetadata } from '@nestjs/common';

export const ROLES_KEY = 'auth:roles';

/** The caller needs at least one of these roles. */
export const Roles = (...roles: string[]) => SetMetadata(ROLES_KEY, roles);
