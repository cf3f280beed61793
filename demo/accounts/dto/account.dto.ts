import { IsEmail, IsIn, IsString, Length, ValidateIf } from 'class-validator';
import { IsSafeText } from 'nest-audit-trail';

export const PLANS = ['free', 'pro', 'enterprise'] as const;

/** A PATCH may leave a field out, never set it to null: `IsOptional` would let null through to a NOT NULL column. */
const Present = () => ValidateIf((_object, value) => value !== undefined);

export class CreateAccountDto {
  @IsSafeText(200) // no NUL (Postgres refuses it in text), no control characters, no lone surrogates
  name!: string;

  @IsEmail()
  @IsSafeText(320)
  email!: string;

  @IsIn(PLANS)
  plan!: (typeof PLANS)[number];

  @IsString()
  @Length(8, 200)
  password!: string;
}

export class UpdateAccountDto {
  @Present()
  @IsSafeText(200)
  name?: string;

  @Present()
  @IsEmail()
  @IsSafeText(320)
  email?: string;

  @Present()
  @IsIn(PLANS)
  plan?: (typeof PLANS)[number];

  @Present()
  @IsString()
  @Length(8, 200)
  password?: string;
}
