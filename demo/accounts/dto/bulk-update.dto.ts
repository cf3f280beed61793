import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsIn,
  IsString,
  IsUUID,
  MaxLength,
  ValidateIf,
} from 'class-validator';
import { PLANS } from './account.dto';

export const MAX_BULK_IDS = 500;

/** `PATCH /accounts/bulk`: one plan for up to 500 accounts of the caller's organization, in one transaction. */
export class BulkUpdateAccountsDto {
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_BULK_IDS)
  @ArrayUnique()
  @IsUUID('all', { each: true })
  ids!: string[];

  @IsIn(PLANS)
  plan!: (typeof PLANS)[number];

  /** Why (the audit trail's reason; the X-Audit-Reason header works too). Required: see the controller. */
  @ValidateIf((_object, value) => value !== undefined)
  @IsString()
  @MaxLength(500)
  reason?: string;
}
