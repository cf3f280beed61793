import { IsEmail, IsIn, IsOptional, IsString, Length, MaxLength } from 'class-validator';

export const PLANS = ['free', 'pro', 'enterprise'] as const;

export class CreateAccountDto {
  @IsString()
  @Length(1, 200)
  name!: string;

  @IsEmail()
  @MaxLength(320)
  email!: string;

  @IsIn(PLANS)
  plan!: (typeof PLANS)[number];

  @IsString()
  @Length(8, 200)
  password!: string;
}

export class UpdateAccountDto {
  @IsOptional()
  @IsString()
  @Length(1, 200)
  name?: string;

  @IsOptional()
  @IsEmail()
  @MaxLength(320)
  email?: string;

  @IsOptional()
  @IsIn(PLANS)
  plan?: (typeof PLANS)[number];

  @IsOptional()
  @IsString()
  @Length(8, 200)
  password?: string;
}
