import {
  CIRCULAR,
  JsonValue,
  REDACTED,
  safeSerialize,
  SafeSerializeOptions,
  TruncatedState,
} from './safe-serialize';

const serialize = (input: unknown, options: Partial<SafeSerializeOptions> = {}) =>
  safeSerialize(input, { maxBytes: 1024 * 1024, ...options });

const isTruncated = (value: JsonValue | TruncatedState): value is TruncatedState =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && value.$truncated === true;

const jsonBytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value), 'utf8');

describe('safeSerialize', () => {
  describe('scalars', () => {
    it('turns a Date into its ISO string and an invalid Date into null', () => {
      expect(serialize({ at: new Date('2026-03-01T12:00:00.000Z'), bad: new Date('nope') })).toEqual({
        at: '2026-03-01T12:00:00.000Z',
        bad: null,
      });
    });

    it('turns a BigInt into its exact decimal string', () => {
      expect(serialize({ big: 12345678901234567890n })).toEqual({ big: '12345678901234567890' });
    });

    it('keeps NaN and infinities as strings instead of losing them', () => {
      expect(serialize({ a: NaN, b: Infinity, c: -Infinity, d: 1.5 })).toEqual({
        a: 'NaN',
        b: 'Infinity',
        c: '-Infinity',
        d: 1.5,
      });
    });

    it('replaces NUL characters and lone surrogates in strings with U+FFFD', () => {
      expect(serialize({ name: 'a\u0000b\u0000' })).toEqual({ name: 'a\ufffdb\ufffd' });
      expect(serialize({ list: ['\ud800x', 'y\udfff', 'ok😀'] })).toEqual({
        list: ['\ufffdx', 'y\ufffd', 'ok😀'],
      });
    });

    it('replaces them in keys too (Postgres jsonb rejects \\u0000 and lone surrogates anywhere)', () => {
      const result = serialize(JSON.parse('{"a\\u0000b": 1, "c\\ud800": {"\\udc00": 2}}'));
      expect(JSON.stringify(result)).not.toMatch(/\\u(0000|d[89a-f])/i);
      expect(result).toEqual({ 'a\ufffdb': 1, 'c\ufffd': { '\ufffd': 2 } });
    });
  });

  describe('objects', () => {
    it('serializes a Decimal-like object through its toJSON', () => {
      class Decimal {
        constructor(private readonly digits: string) {}
        toJSON(): string {
          return this.digits;
        }
      }
      expect(serialize({ price: new Decimal('19.990') })).toEqual({ price: '19.990' });
    });

    it('keeps only own enumerable data properties of a class instance', () => {
      class Customer {
        constructor(
          public name: string,
          public age: number,
        ) {}
        greet(): string {
          return `hello ${this.name}`;
        }
        get shout(): string {
          return this.name.toUpperCase();
        }
      }
      expect(serialize(new Customer('Ada', 36))).toEqual({ name: 'Ada', age: 36 });
    });

    it('drops undefined, function and symbol properties, and symbol keys', () => {
      const input = { keep: 1, missing: undefined, fn: () => 1, sym: Symbol('s'), [Symbol('key')]: 'hidden' };
      expect(serialize(input)).toEqual({ keep: 1 });
      expect(Object.keys(serialize(input) as object)).toEqual(['keep']);
    });

    it('writes unserializable array items as null, like JSON.stringify, so indexes stay aligned', () => {
      expect(serialize([1, undefined, () => 2, 3])).toEqual([1, null, null, 3]);
    });

    it('keeps a key named __proto__ as data instead of turning it into a prototype', () => {
      const result = serialize(JSON.parse('{"__proto__": {"role": "admin"}, "name": "Ada"}'));
      expect(JSON.stringify(result)).toBe('{"__proto__":{"role":"admin"},"name":"Ada"}');
    });

    it('treats __proto__, constructor and prototype keys as plain data at any depth, touching no prototype', () => {
      const body = JSON.parse(
        '{"a": {"__proto__": {"isAdmin": true}}, "constructor": {"prototype": {"isAdmin": true}},' +
          ' "list": [{"__proto__": {"x": 1}}], "toString": "plain"}',
      );
      const result = serialize(body) as Record<string, Record<string, unknown>>;
      expect(Object.getPrototypeOf(result)).toBe(Object.prototype);
      expect(Object.getPrototypeOf(result.a)).toBe(Object.prototype);
      expect(Object.hasOwn(result.a, '__proto__')).toBe(true);
      expect((result.a as { isAdmin?: unknown }).isAdmin).toBeUndefined();
      expect(JSON.parse(JSON.stringify(result))).toEqual(JSON.parse(JSON.stringify(body)));
      expect(({} as { isAdmin?: unknown }).isAdmin).toBeUndefined();
      expect(Object.prototype.toString.call({})).toBe('[object Object]');
    });

    it('redacts below a __proto__ or constructor key like below any other', () => {
      const result = serialize(
        JSON.parse('{"__proto__": {"password": "p1"}, "constructor": {"token": "t1"}}'),
        {
          shouldRedact: (key) => key === 'password' || key === 'token',
        },
      );
      expect(JSON.stringify(result)).toBe(
        `{"__proto__":{"password":"${REDACTED}"},"constructor":{"token":"${REDACTED}"}}`,
      );
    });

    it('turns a Map into an object, stringifying non-string keys', () => {
      const map = new Map<unknown, unknown>([
        [1, 'one'],
        [true, 'yes'],
        ['nested', new Map([['at', new Date('2026-01-01T00:00:00.000Z')]])],
      ]);
      expect(serialize(map)).toEqual({ '1': 'one', true: 'yes', nested: { at: '2026-01-01T00:00:00.000Z' } });
    });

    it('turns a Set into an array', () => {
      expect(serialize({ tags: new Set(['a', 'b', 'a']) })).toEqual({ tags: ['a', 'b'] });
    });
  });

  describe('binary data', () => {
    it('inlines a small Buffer as base64', () => {
      expect(serialize({ file: Buffer.from('hello') })).toEqual({
        file: { $type: 'Buffer', length: 5, base64: 'aGVsbG8=' },
      });
    });

    it('inlines a Uint8Array as base64', () => {
      expect(serialize(new Uint8Array([1, 2, 3]))).toEqual({ $type: 'Buffer', length: 3, base64: 'AQID' });
    });

    it('replaces a large Buffer by a marker with its length and no content', () => {
      const result = serialize({ file: Buffer.alloc(64 * 1024, 7) });
      expect(result).toEqual({ file: { $type: 'Buffer', length: 64 * 1024, omitted: true } });
      expect(jsonBytes(result)).toBeLessThan(200);
    });
  });

  describe('cycles and depth', () => {
    it('marks a reference back to an ancestor as [Circular]', () => {
      const root: Record<string, unknown> = { name: 'root' };
      root.self = root;
      root.child = { parent: root, list: [root] };
      expect(serialize(root)).toEqual({
        name: 'root',
        self: CIRCULAR,
        child: { parent: CIRCULAR, list: [CIRCULAR] },
      });
    });

    it('serializes an object referenced twice without a cycle in full both times', () => {
      const address = { city: 'Paris' };
      expect(serialize({ home: address, billing: address, history: [address, address] })).toEqual({
        home: { city: 'Paris' },
        billing: { city: 'Paris' },
        history: [{ city: 'Paris' }, { city: 'Paris' }],
      });
    });

    it('stops at 32 levels of nesting with [MaxDepth]', () => {
      let deep: unknown = 'leaf';
      for (let i = 0; i < 40; i++) deep = { next: deep };

      let node = serialize(deep) as JsonValue;
      let levels = 0;
      while (typeof node === 'object' && node !== null && !Array.isArray(node)) {
        node = node.next;
        levels++;
      }
      expect(levels).toBe(32);
      expect(node).toBe('[MaxDepth]');
    });

    it('keeps a moderately nested value intact', () => {
      let deep: unknown = 'leaf';
      for (let i = 0; i < 10; i++) deep = { next: deep };
      expect(serialize(deep)).toEqual(deep);
    });
  });

  describe('byte budget', () => {
    const rows = Array.from({ length: 20_000 }, (_, i) => ({ id: i, name: `row-${i}`, active: true }));

    it('returns a value under the budget unchanged', () => {
      const small = { rows: rows.slice(0, 3) };
      expect(serialize(small, { maxBytes: 1024 })).toEqual(small);
    });

    it('wraps a list over the budget in a truncation marker keeping the items that fit', () => {
      const result = serialize(rows, { maxBytes: 1024 });
      expect(isTruncated(result)).toBe(true);
      const { limitBytes, partial } = result as TruncatedState;
      expect(limitBytes).toBe(1024);
      expect(Array.isArray(partial)).toBe(true);
      const kept = partial as unknown[];
      expect(kept.length).toBeGreaterThan(0);
      expect(kept.length).toBeLessThan(rows.length);
      expect(kept).toEqual(rows.slice(0, kept.length));
      expect(jsonBytes(partial)).toBeLessThanOrEqual(1024);
    });

    it('keeps the part that fit of a nested list in the partial, under the budget', () => {
      const result = serialize({ title: 'export', rows }, { maxBytes: 1024 });
      expect(isTruncated(result)).toBe(true);
      const { partial } = result as TruncatedState;
      expect(partial).toEqual({ title: 'export', rows: expect.any(Array) });
      const kept = (partial as { rows: unknown[] }).rows;
      expect(kept.length).toBeGreaterThan(0);
      expect(kept).toEqual(rows.slice(0, kept.length));
      expect(jsonBytes(partial)).toBeLessThanOrEqual(1024);
    });

    it('truncates a single huge string without copying it', () => {
      const result = serialize({ note: 'x'.repeat(1_000_000) }, { maxBytes: 1024 });
      expect(isTruncated(result)).toBe(true);
      expect(jsonBytes(result)).toBeLessThan(1024);
    });

    it('counts UTF-8 bytes, not UTF-16 code units, against the budget', () => {
      // '€' is one code unit but three bytes of UTF-8.
      const result = serialize({ note: '€'.repeat(1000) }, { maxBytes: 2048 });
      const stored = isTruncated(result) ? result.partial : result;
      expect(jsonBytes(stored)).toBeLessThanOrEqual(2048);
    });
  });

  describe('redaction hooks', () => {
    it('replaces values under redacted keys, with the key path, and reports them to onRedact', () => {
      const seenPaths: string[][] = [];
      const redacted: Array<[string, unknown]> = [];
      const result = serialize(
        { user: { name: 'Ada', password: 'hunter2' }, logins: [{ password: 'p1' }] },
        {
          shouldRedact: (key, path) => {
            seenPaths.push([...path]);
            return key === 'password';
          },
          onRedact: (path, value) => redacted.push([path, value]),
        },
      );
      expect(result).toEqual({
        user: { name: 'Ada', password: REDACTED },
        logins: [{ password: REDACTED }],
      });
      expect(seenPaths).toContainEqual(['user', 'password']);
      expect(seenPaths).toContainEqual(['logins', '0', 'password']);
      expect(redacted).toEqual([
        ['user.password', 'hunter2'],
        ['logins.0.password', 'p1'],
      ]);
    });

    it('keeps a null redacted value as null and does not report it', () => {
      const onRedact = jest.fn();
      const result = serialize({ password: null }, { shouldRedact: (key) => key === 'password', onRedact });
      expect(result).toEqual({ password: null });
      expect(onRedact).not.toHaveBeenCalled();
    });

    it('never walks into a redacted value', () => {
      const secret = {
        get material(): string {
          throw new Error('the redacted value was read');
        },
      };
      expect(
        serialize({ secret }, { shouldRedact: (key) => key === 'secret', onRedact: () => undefined }),
      ).toEqual({
        secret: REDACTED,
      });
    });

    it('redacts string values matched by shouldRedactValue whatever their key', () => {
      const onRedact = jest.fn();
      const result = serialize(
        { note: 'sk_live_123', tags: ['ok', 'sk_test_456'] },
        { shouldRedactValue: (value) => value.startsWith('sk_'), onRedact },
      );
      expect(result).toEqual({ note: REDACTED, tags: ['ok', REDACTED] });
      expect(onRedact.mock.calls).toEqual([
        ['note', 'sk_live_123'],
        ['tags.1', 'sk_test_456'],
      ]);
    });
  });
});
