import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Account } from './account.entity';
import { AccountsController } from './accounts.controller';
import { AccountsService } from './accounts.service';

@Module({
  imports: [TypeOrmModule.forFeature([Account])],
  controllers: [AccountsController],
  providers: [AccountsService],
  // For the revert handler (AccountsRevertHandler), which AuditAdminModule's revert option instantiates.
  exports: [AccountsService],
})
export class AccountsModule {}
