/**
 * The order of the variants in one rep, rotated by one each rep (A B C, B C A, C A B, ...; 1-based reps): each
 * variant runs first as often as the others, so a drift of the machine does not favour one of them.
 */
export function rotated<T>(variants: readonly T[], rep: number): T[] {
  const k = (rep - 1) % variants.length;
  return [...variants.slice(k), ...variants.slice(0, k)];
}
