import { jsonBodyParserOptions, jsonDepthVerifier, jsonNestingDepth } from './json-body-limits';

describe('jsonNestingDepth', () => {
  it.each([
    ['1', 0],
    ['{}', 1],
    ['{"a":[1,{"b":[]}]}', 4],
    ['{"a":"[[[[{{{{"}', 1],
    ['{"a":"\\"[[[["}', 1],
    ['{"a":"\\\\"}', 1],
    ['[[],[],[[]]]', 3],
    [`{"name":"Zoë 名前 𝄞 [[["}`, 1],
  ])('%s is %i deep', (json, depth) => {
    expect(jsonNestingDepth(json)).toBe(depth);
    expect(jsonNestingDepth(Buffer.from(json, 'utf8'))).toBe(depth);
  });

  it('reads UTF-16 bodies decoded', () => {
    expect(jsonNestingDepth(Buffer.from('[[["\u5b5b"]]]', 'utf16le'), Infinity, 'utf-16le')).toBe(3);
  });

  it('stops counting once over the limit', () => {
    expect(jsonNestingDepth('['.repeat(100_000), 10)).toBe(11);
  });
});

describe('jsonDepthVerifier', () => {
  const verify = jsonDepthVerifier(3);
  const check = (json: string) => () => verify({} as never, {} as never, Buffer.from(json), 'utf-8');

  it('lets a body at the limit through', () => {
    expect(check('{"a":{"b":[1]}}')).not.toThrow();
  });

  it("keeps the raw bytes when asked (in place of Nest's rawBody, which would replace the check)", () => {
    const request = {} as { rawBody?: Buffer };
    const body = Buffer.from('{"a":1}');
    jsonBodyParserOptions({ rawBody: true }).verify(request as never, {} as never, body, 'utf-8');
    expect(request.rawBody).toBe(body);
  });

  it('refuses a deeper body with a 400', () => {
    expect(check('{"a":{"b":[[1]]}}')).toThrow(expect.objectContaining({ status: 400 }));
  });
});
