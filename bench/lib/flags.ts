type FlagValue = number | boolean | string;

/**
 * Parses `--name value`, `--name=value` and bare `--name` (true) against a defaults object: the defaults
 * give each flag's type, and any flag not in them is an error listing the known ones.
 */
export function parseFlags<T extends Record<string, FlagValue>>(
  defaults: T,
  argv = process.argv.slice(2),
): T {
  const flags: Record<string, FlagValue> = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const match = /^--([a-zA-Z][\w-]*)(?:=(.*))?$/.exec(argv[i]);
    if (!match || !(match[1] in defaults)) throw new Error(`Unknown argument ${argv[i]}\n${usage(defaults)}`);
    const [, name, inline] = match;
    const kind = typeof defaults[name];
    if (kind === 'boolean') {
      flags[name] = inline === undefined ? true : inline !== 'false';
      continue;
    }
    const raw = inline ?? argv[++i];
    if (raw === undefined) throw new Error(`--${name} needs a value\n${usage(defaults)}`);
    if (kind === 'number') {
      const value = Number(raw);
      if (!Number.isFinite(value)) throw new Error(`--${name} must be a number, got "${raw}"`);
      flags[name] = value;
    } else {
      flags[name] = raw;
    }
  }
  return flags as T;
}

/** Flags that were given explicitly on the command line (so a --quick preset does not override them). */
export function explicitFlags(argv = process.argv.slice(2)): Set<string> {
  return new Set(argv.flatMap((arg) => /^--([a-zA-Z][\w-]*)/.exec(arg)?.[1] ?? []));
}

/** Applies a preset (e.g. --quick) to every flag the user did not set explicitly. */
export function withPreset<T extends Record<string, FlagValue>>(flags: T, preset: Partial<T>): T {
  const explicit = explicitFlags();
  const result = { ...flags };
  for (const [name, value] of Object.entries(preset)) {
    if (!explicit.has(name)) (result as Record<string, FlagValue>)[name] = value as FlagValue;
  }
  return result;
}

function usage(defaults: Record<string, FlagValue>): string {
  const lines = Object.entries(defaults).map(([name, value]) =>
    typeof value === 'boolean' ? `  --${name}` : `  --${name} <${typeof value}> (default ${value})`,
  );
  return `Flags:\n${lines.join('\n')}`;
}
