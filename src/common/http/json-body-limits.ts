import type { IncomingMessage, ServerResponse } from 'node:http';

/** Limits for JSON request bodies; see `jsonBodyParserOptions`. */
export interface JsonBodyLimits {
  /** Largest body, in bytes or as `'100kb'`; larger is a 413. Default `'100kb'` (body-parser's own). */
  limit?: number | string;
  /** Deepest nesting of objects and arrays; deeper is a 400. Default 64. */
  maxDepth?: number;
  /**
   * Keep the raw bytes as `request.rawBody` (webhook signatures). Use this instead of Nest's own
   * `rawBody: true`, which replaces the parser's `verify` hook, and with it the depth check.
   */
  rawBody?: boolean;
}

export const DEFAULT_JSON_MAX_DEPTH = 64;

const [QUOTE, BACKSLASH, OPEN_BRACE, CLOSE_BRACE, OPEN_BRACKET, CLOSE_BRACKET] = [34, 92, 123, 125, 91, 93];

/**
 * How deep `{`/`[` nest in JSON text (brackets inside strings do not count), scanning only: no parse. Stops
 * as soon as the depth exceeds `stopAbove`. UTF-8 bytes are scanned as they are (a multi-byte character
 * never holds an ASCII byte); other encodings are decoded first.
 */
export function jsonNestingDepth(
  body: Buffer | string,
  stopAbove = Number.POSITIVE_INFINITY,
  encoding = 'utf-8',
): number {
  const text =
    typeof body === 'string' || /^utf-?8$/i.test(encoding) ? body : new TextDecoder(encoding).decode(body);
  const codeAt =
    typeof text === 'string' ? (i: number) => text.charCodeAt(i) : (i: number) => (text as Buffer)[i];
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const code = codeAt(i);
    if (inString) {
      if (code === BACKSLASH) i++;
      else if (code === QUOTE) inString = false;
    } else if (code === QUOTE) inString = true;
    else if (code === OPEN_BRACE || code === OPEN_BRACKET) {
      if (++depth > deepest && (deepest = depth) > stopAbove) return deepest;
    } else if (code === CLOSE_BRACE || code === CLOSE_BRACKET) depth--;
  }
  return deepest;
}

/**
 * A body-parser `verify` hook that refuses JSON nested deeper than `maxDepth` with a 400, before
 * `JSON.parse` runs: deeply nested input would otherwise overflow the stack of whatever walks it next
 * (validation, transformation, the audit trail's own diff), a 500.
 */
export function jsonDepthVerifier(maxDepth = DEFAULT_JSON_MAX_DEPTH, keepRawBody = false) {
  return (req: IncomingMessage, _res: ServerResponse, body: Buffer, encoding: string): void => {
    if (jsonNestingDepth(body, maxDepth, encoding || 'utf-8') > maxDepth) {
      throw Object.assign(new Error(`JSON body is nested deeper than ${maxDepth} levels`), {
        status: 400,
        type: 'entity.too.deep',
      });
    }
    if (keepRawBody) (req as IncomingMessage & { rawBody?: Buffer }).rawBody = body;
  };
}

/**
 * Options for the JSON body parser with a size and a depth limit:
 * `app.useBodyParser('json', jsonBodyParserOptions({ limit: '100kb', maxDepth: 64 }))` before `app.init()`
 * (NestExpressApplication; it replaces Nest's default JSON parser). Too large is a 413, too deep a 400, both
 * before the body is parsed. Leave Nest's `rawBody` option off (it would replace the depth check): pass
 * `rawBody: true` here instead.
 */
export function jsonBodyParserOptions(limits: JsonBodyLimits = {}) {
  return {
    limit: limits.limit ?? '100kb',
    verify: jsonDepthVerifier(limits.maxDepth ?? DEFAULT_JSON_MAX_DEPTH, limits.rawBody ?? false),
  };
}
