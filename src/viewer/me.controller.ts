import { Controller, Get, Req, UseGuards } from '@nestjs/common';
import { ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { AuthUser, ROLES } from '../common/auth/auth.types';
import { AuditAccessGuard } from '../common/auth/audit-access.guard';
import { Roles } from '../common/auth/roles.decorator';
import { AdminApi } from '../common/http/admin-api.decorator';

/** Who the admin API takes the caller for: the viewer shows it and hides what the roles cannot do. */
@Controller('me')
@UseGuards(AuditAccessGuard)
@Roles(ROLES.read, ROLES.readAll, ROLES.admin, ROLES.platform)
@AdminApi('identity')
export class MeController {
  @Get()
  @ApiOperation({ summary: 'The caller as the admin API sees it: subject, organization, roles' })
  @ApiOkResponse({ description: '`{ sub, org, roles }`' })
  me(@Req() req: { user: AuthUser }): AuthUser {
    const { sub, org, roles } = req.user;
    return { sub, org, roles: roles.filter((role) => role.startsWith('audit:')) };
  }
}
