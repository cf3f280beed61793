export type Cell = string | number;

/** Prints an aligned plain-text table with a title; columns whose cells are all numeric are right-aligned. */
export function printTable(title: string, header: string[], rows: Cell[][]): void {
  const text = rows.map((row) => row.map((cell) => (typeof cell === 'number' ? formatNumber(cell) : cell)));
  const widths = header.map((h, i) => Math.max(h.length, ...text.map((row) => row[i].length)));
  const rightAligned = header.map((_, i) => text.every((row) => /^[\d.,-]/.test(row[i])));
  const line = (cells: string[]) =>
    cells.map((cell, i) => (rightAligned[i] ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join('  ');
  console.log(`\n${title}`);
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of text) console.log(line(row));
}

/** Integers and large values with thousands separators; small fractions with 2 decimals. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  return Number.isInteger(value) || Math.abs(value) >= 1000
    ? Math.round(value).toLocaleString('en-US')
    : value.toFixed(2);
}

export const formatRatio = (value: number): string => `${value.toFixed(2)}x`;
export const formatMiB = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
