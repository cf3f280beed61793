import type { Cell } from '../diff';

export function StatusBadge({ status, code }: { status: string; code?: number | null }) {
  return (
    <span class={`badge status-${status === 'failure' ? 'failure' : 'success'}`}>
      {status}
      {code ? <span class="code"> {code}</span> : ''}
    </span>
  );
}

export function SeverityBadge({ severity }: { severity: string }) {
  return <span class={`badge severity-${severity}`}>{severity}</span>;
}

const MARKERS: Record<Exclude<Cell['kind'], 'value'>, { label: string; title: string }> = {
  absent: { label: '—', title: 'not present' },
  redacted: { label: 'redacted', title: 'A secret: redacted before it was stored' },
  erased: { label: 'erased', title: "Personal data erased (the subject's key was destroyed)" },
  encrypted: { label: 'encrypted', title: 'Personal data: this server lacks the key to decrypt it' },
};

/** A value of a state: the text, or a marker that says why there is none. */
export function CellView({ cell }: { cell: Cell }) {
  if (cell.kind === 'value') return <code class="value">{cell.text}</code>;
  const marker = MARKERS[cell.kind];
  return (
    <span class={`marker marker-${cell.kind}`} title={marker.title}>
      {marker.label}
    </span>
  );
}

export function Message({ kind, children }: { kind: 'error' | 'info'; children: preact.ComponentChildren }) {
  return (
    <p class={`message message-${kind}`} role={kind === 'error' ? 'alert' : 'status'}>
      {children}
    </p>
  );
}
