import { BadRequestException } from '@nestjs/common';
import { IsEmail } from 'class-validator';
import { findLoneSurrogate, strictValidationPipe } from './validation.pipe';

class EmailDto {
  @IsEmail()
  email!: string;
}

describe('strictValidationPipe', () => {
  const pipe = strictValidationPipe();
  const body = { type: 'body' as const, metatype: EmailDto };

  it('refuses text with a lone surrogate with a 400 naming the field, before a validator throws on it', async () => {
    // IsEmail itself throws a URIError on such text: a 500 without this check.
    const error = await pipe.transform({ email: 'a\udfff@b.co' }, body).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadRequestException);
    expect(((error as BadRequestException).getResponse() as { message: string[] }).message).toEqual([
      'email must be well-formed Unicode text (it holds a lone surrogate)',
    ]);
  });

  it('lets well-formed text through to validation', async () => {
    await expect(pipe.transform({ email: 'zoe@example.com' }, body)).resolves.toBeInstanceOf(EmailDto);
    const invalid = await pipe.transform({ email: 'not-an-email 𝄞' }, body).catch((e: unknown) => e);
    expect(((invalid as BadRequestException).getResponse() as { message: string[] }).message).toEqual([
      'email must be an email',
    ]);
  });
});

describe('findLoneSurrogate', () => {
  it.each([
    [{ a: 'ok', b: ['x', { c: 'bad\ud800' }] }, 'b.1.c'],
    [{ ['key\udc00']: 1 }, 'key\udc00'],
    ['\ud83d', 'value'],
    [{ a: '𝄞', b: null, c: 3 }, null],
  ])('%j -> %j', (value, path) => {
    expect(findLoneSurrogate(value)).toBe(path);
  });

  it('walks a deep value without recursion', () => {
    let deep: unknown = 'x\ud800';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(findLoneSurrogate(deep)).toMatch(/^0(\.0)*$/);
  });
});
