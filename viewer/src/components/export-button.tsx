import { useRef, useState } from 'preact/hooks';
import { apiUrl, errorText, getStream, session } from '../api';
import { formatBytes } from '../format';

/**
 * The existing export endpoint (NDJSON or CSV), with the reader's identity. With the app's own identity
 * (cookies, a gateway) a plain download, streamed to disk by the browser. With a pasted token (a header,
 * which a download cannot carry) the response is read here, the bytes received shown as they arrive, and
 * handed to the browser at the end (held in memory until then); Cancel aborts the request (the server stops
 * its query).
 */
export function ExportButtons({ filters }: { filters: Record<string, string> }) {
  const [progress, setProgress] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const abort = useRef<AbortController | null>(null);

  const run = async (format: 'ndjson' | 'csv') => {
    if (!session.token()) {
      // The app's own identity (cookie, gateway): the browser's download streams the file straight to disk.
      const link = document.createElement('a');
      link.href = apiUrl('export', { ...filters, format });
      link.download = '';
      document.body.append(link);
      link.click();
      link.remove();
      setProgress(`Export started: see the browser's downloads`);
      return;
    }
    // A pasted token travels in a header, which a plain download cannot send: the export is read here.
    const controller = new AbortController();
    abort.current = controller;
    setBusy(true);
    setProgress('Starting export…');
    try {
      const response = await getStream(
        'export',
        { ...filters, format },
        format === 'csv' ? 'text/csv' : 'application/x-ndjson',
        controller.signal,
      );
      const reader = response.body!.getReader();
      const chunks: Uint8Array[] = [];
      let bytes = 0;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        chunks.push(value);
        bytes += value.byteLength;
        setProgress(`Exporting… ${formatBytes(bytes)}`);
      }
      const type = format === 'csv' ? 'text/csv' : 'application/x-ndjson';
      const url = URL.createObjectURL(new Blob(chunks as BlobPart[], { type }));
      const link = document.createElement('a');
      link.href = url;
      link.download = `audit-events-${new Date().toISOString().replace(/[:.]/g, '-')}.${format}`;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      setProgress(`Exported ${formatBytes(bytes)} as ${format.toUpperCase()}`);
    } catch (caught) {
      setProgress(controller.signal.aborted ? 'Export cancelled' : `Export failed: ${errorText(caught)}`);
    } finally {
      setBusy(false);
      abort.current = null;
    }
  };

  return (
    <div class="export" role="group" aria-label="Export the current search">
      <button type="button" disabled={busy} onClick={() => run('ndjson')}>
        Export NDJSON
      </button>
      <button type="button" disabled={busy} onClick={() => run('csv')}>
        Export CSV
      </button>
      {busy && (
        <button type="button" onClick={() => abort.current?.abort()}>
          Cancel
        </button>
      )}
      {progress && (
        <span class="export-progress" role="status">
          {progress}
        </span>
      )}
    </div>
  );
}
