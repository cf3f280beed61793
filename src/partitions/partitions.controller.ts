import { ConflictException, Controller, Get, HttpCode, Post, Query, UseGuards } from '@nestjs/common';
import { ApiConflictResponse, ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { ROLES } from '../common/auth/auth.types';
import { AuditAccessGuard } from '../common/auth/audit-access.guard';
import { Roles } from '../common/auth/roles.decorator';
import { DryRunQuery, PartitionListQuery } from './dto/dry-run.query';
import { MaintenanceReportDto, PartitionViewDto } from './dto/responses';
import { PartitionListService } from './partition-list.service';
import { PartitionService } from './partition.service';
import { AdminApi } from '../common/http/admin-api.decorator';

@Controller('partitions')
@UseGuards(AuditAccessGuard)
@Roles(ROLES.platform)
@AdminApi('partitions')
export class PartitionsController {
  constructor(
    private readonly partitions: PartitionService,
    private readonly list: PartitionListService,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Hot and warm partitions and DEFAULT: range, tier, rows, bytes' })
  @ApiOkResponse({ type: [PartitionViewDto] })
  partitionsList(@Query() query: PartitionListQuery) {
    return this.list.list(query.exact ?? false);
  }

  @Post('maintenance')
  @HttpCode(200)
  @ApiOperation({ summary: 'Run partition maintenance now (premake, DEFAULT clean-up); dryRun reports only' })
  @ApiOkResponse({ type: MaintenanceReportDto })
  @ApiConflictResponse({ description: 'Another instance is running maintenance' })
  async maintenance(@Query() query: DryRunQuery) {
    const report = await this.partitions.maintain(query.dryRun ?? false);
    if (!report) throw new ConflictException('Another instance is running partition maintenance');
    return report;
  }
}
