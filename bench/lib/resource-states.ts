import { accountState, hex, pick, prng, Random, updatedState } from './events';

/**
 * Real words first (the frequent ones, so searches read naturally), then made-up ones for a long tail: the
 * states' free text draws from this vocabulary with a Zipf distribution, as text in real states does.
 */
const WORDS = `aurora falcon harbor quarterly migration invoice renewal onboarding roadmap compliance security
  analytics billing customer partner enterprise pipeline release sprint backlog campaign budget forecast
  vendor contract audit payroll support ticket escalation incident outage dashboard report export import
  integration webhook gateway cluster database storage backup archive retention policy review approval draft
  final summary proposal invoice budget marketing finance legal hiring training workshop launch beta pilot
  europe america asia london berlin paris tokyo sydney toronto madrid dublin oslo zurich vienna prague lisbon
  amber cobalt crimson indigo jade ochre scarlet silver violet copper granite marble cedar maple willow
  birch spruce orchid lotus tulip meadow river canyon glacier summit valley prairie lagoon delta island
  phoenix griffin kestrel osprey heron raven sparrow condor pelican puffin otter badger lynx bison moose
  atlas beacon compass lantern anchor bridge castle tower harbor quarry forge mill foundry garden orchard
  alpha gamma omega sigma nova quasar pulsar nebula comet meteor eclipse zenith horizon equinox solstice
  mercury venus saturn neptune jupiter pluto titan europa callisto ganymede orion lyra draco cygnus vega
  ledger voucher receipt refund chargeback payout settlement discount coupon subscription upgrade downgrade
  trial churn retention cohort segment funnel conversion referral loyalty rebate invoice tariff customs`
  .split(/\s+/)
  .filter((word, i, all) => word && all.indexOf(word) === i);
const SYLLABLES = [
  'ka',
  'lo',
  'mi',
  'ren',
  'to',
  'vi',
  'sa',
  'nor',
  'de',
  'bra',
  'qu',
  'zel',
  'tam',
  'fi',
  'gu',
];
const VOCABULARY_SIZE = 3000;
const CITIES = ['London', 'Berlin', 'Paris', 'Tokyo', 'Toronto', 'Madrid', 'Dublin', 'Zurich'];
export const ROLES = ['owner', 'admin', 'editor', 'viewer', 'billing'];
const SCOPES = ['events:read', 'events:write', 'accounts:read', 'accounts:write', 'billing:read'];
const CURRENCIES = ['EUR', 'USD', 'GBP'];

export const RESOURCE_TYPES = [
  'account',
  'project',
  'invoice',
  'user',
  'document',
  'api_key',
  'role',
  'webhook',
];
/** Share of the resources of each type (same order as RESOURCE_TYPES). */
export const TYPE_WEIGHTS = [0.18, 0.2, 0.2, 0.14, 0.18, 0.03, 0.02, 0.05];

/** Cumulative weights k^-s for k = 1..n, normalized, for `sample`. */
export function zipf(n: number, s: number): Float64Array {
  const cumulative = new Float64Array(n);
  let sum = 0;
  for (let k = 0; k < n; k++) cumulative[k] = sum += 1 / Math.pow(k + 1, s);
  for (let k = 0; k < n; k++) cumulative[k] /= sum;
  return cumulative;
}

/** An index drawn with the given cumulative weights (binary search). */
export function sample(random: Random, cumulative: Float64Array): number {
  const target = random();
  let low = 0;
  let high = cumulative.length - 1;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (cumulative[mid] < target) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** The words of the states' free text, Zipf-distributed. */
export class Vocabulary {
  /**
   * Real words past the 20 most frequent: each occurs in the states of 0.3% to a few % of the events (median
   * ~0.7%), good full-text queries.
   */
  readonly searchWords = WORDS.slice(20);
  private readonly words: string[] = [...WORDS];
  private readonly weights = zipf(VOCABULARY_SIZE, 1);

  constructor(random: Random) {
    while (this.words.length < VOCABULARY_SIZE) {
      const word = Array.from({ length: 2 + Math.floor(random() * 2) }, () => pick(random, SYLLABLES)).join(
        '',
      );
      if (!this.words.includes(word)) this.words.push(word);
    }
  }

  text(random: Random, count: number): string {
    return Array.from({ length: count }, () => this.words[sample(random, this.weights)]).join(' ');
  }
}

/** The state of a resource when first seen: the same for the same seed, by type. */
export function resourceState(
  vocabulary: Vocabulary,
  resource: { type: string; id: string; seed: number },
): Record<string, unknown> {
  const random = prng(resource.seed);
  const words = (count: number) => vocabulary.text(random, count);
  const base = {
    id: resource.id,
    name: `${words(2)} ${resource.type}`,
    updatedBy: `user_${hex(random, 10)}`,
  };
  switch (resource.type) {
    case 'account':
      return { ...accountState(random), ...base, address: { city: pick(random, CITIES) } };
    case 'project':
      return {
        ...base,
        description: words(8),
        visibility: pick(random, ['private', 'org']),
        tags: [words(1), words(1)],
      };
    case 'invoice':
      return {
        ...base,
        number: `INV-${Math.floor(random() * 1e6)}`,
        currency: pick(random, CURRENCIES),
        amountCents: Math.floor(random() * 1e6),
        status: 'open',
        lines: [{ description: words(4), amountCents: Math.floor(random() * 1e5) }],
      };
    case 'user':
      return {
        ...base,
        email: `${hex(random, 6)}@example.com`,
        role: pick(random, ROLES),
        title: words(2),
        locale: pick(random, ['en-GB', 'de-DE', 'fr-FR']),
      };
    case 'document':
      return { ...base, folder: words(2), summary: words(12), sizeBytes: Math.floor(random() * 1e7) };
    case 'api_key':
      return {
        ...base,
        prefix: `ak_${hex(random, 6)}`,
        scopes: SCOPES.slice(0, 1 + Math.floor(random() * SCOPES.length)),
        token: `sk_live_${hex(random, 24)}`,
      };
    case 'role':
      return { ...base, permissions: SCOPES.slice(0, 2 + Math.floor(random() * 3)) };
    default:
      return {
        ...base,
        url: `https://hooks.example.com/${hex(random, 8)}`,
        events: ['account.update', 'invoice.create'],
        active: true,
      };
  }
}

/** A typical update of that state: one or two fields change, sometimes the free text. */
export function updatedResourceState(
  vocabulary: Vocabulary,
  random: Random,
  before: Record<string, unknown>,
  updatedBy: string,
): Record<string, unknown> {
  const after: Record<string, unknown> = { ...before, updatedBy };
  if ('plan' in before) Object.assign(after, updatedState(random, before as ReturnType<typeof accountState>));
  if ('description' in before) after.description = vocabulary.text(random, 8);
  if ('summary' in before) after.summary = vocabulary.text(random, 12);
  if ('status' in before && !('plan' in before)) after.status = pick(random, ['open', 'paid', 'void']);
  if ('role' in before) after.role = pick(random, ROLES);
  if ('token' in before) after.token = `sk_live_${hex(random, 24)}`;
  if ('active' in before) after.active = random() < 0.8;
  if (random() < 0.3) after.name = `${vocabulary.text(random, 2)} ${before.name}`;
  return after;
}
