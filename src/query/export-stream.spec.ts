import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { exportErrorRecord, ResponseSink } from './export-stream';

const error = { message: 'the export stopped after 1 rows', rows: 1, requestId: 'r-1' };

/** Sends `chunks` through a ResponseSink into a PassThrough standing for the response; returns both. */
async function sendThrough(chunks: string[], csv: boolean) {
  const response = new PassThrough();
  const sink = new ResponseSink(response, csv);
  const received: Buffer[] = [];
  response.on('data', (chunk: Buffer) => received.push(chunk));
  const failing = Readable.from(
    (async function* () {
      for (const chunk of chunks) yield Buffer.from(chunk);
      throw new Error('simulated failure');
    })(),
  );
  await expect(pipeline(failing, sink)).rejects.toThrow('simulated failure');
  return { response, sink, text: () => Buffer.concat(received).toString() };
}

describe('exportErrorRecord', () => {
  it('NDJSON: one JSON line with the code', () => {
    expect(JSON.parse(exportErrorRecord('ndjson', error))).toEqual({
      error: { code: 'EXPORT_INCOMPLETE', message: error.message, rows: 1, requestId: 'r-1' },
    });
  });

  it('CSV: a #error row, the message quoted', () => {
    expect(exportErrorRecord('csv', { ...error, message: 'say "no"' })).toBe(
      '#error,EXPORT_INCOMPLETE,"say ""no"""\n',
    );
  });

  it('closes a cut line, and a cut quoted CSV field, before the record', () => {
    expect(exportErrorRecord('ndjson', error, { lineOpen: true, quoteOpen: false })).toMatch(/^\n\{"error"/);
    expect(exportErrorRecord('csv', error, { lineOpen: true, quoteOpen: true })).toMatch(/^"\n#error,/);
  });
});

describe('ResponseSink', () => {
  it('leaves the response open when the pipeline fails, and knows where the body was cut', async () => {
    const { response, sink, text } = await sendThrough(['id,name\n', '1,"multi\nline', ' value'], true);
    expect(response.destroyed).toBe(false);
    expect(response.writableEnded).toBe(false);
    expect(sink.cut).toEqual({ lineOpen: true, quoteOpen: true });
    response.end(exportErrorRecord('csv', error, sink.cut));
    await new Promise((resolve) => response.on('end', resolve).resume());
    expect(text()).toBe(`id,name\n1,"multi\nline value"\n#error,EXPORT_INCOMPLETE,"${error.message}"\n`);
  });

  it('counts escaped quotes as closed', async () => {
    const { sink } = await sendThrough(['1,"say ""hi""",x\n'], true);
    expect(sink.cut).toEqual({ lineOpen: false, quoteOpen: false });
  });

  it('ends the response when the pipeline completes', async () => {
    const response = new PassThrough();
    const sink = new ResponseSink(response);
    const received: string[] = [];
    response.on('data', (chunk: Buffer) => received.push(chunk.toString()));
    await pipeline(Readable.from([Buffer.from('{"a":1}\n')]), sink);
    expect(response.writableEnded).toBe(true);
    expect(received.join('')).toBe('{"a":1}\n');
  });

  it('fails the pipeline when the client goes away', async () => {
    const response = new PassThrough({ highWaterMark: 1 });
    const sink = new ResponseSink(response);
    const endless = new Readable({
      read() {
        this.push(Buffer.alloc(1024));
      },
    });
    const running = pipeline(endless, sink);
    setTimeout(() => response.destroy(), 20);
    await expect(running).rejects.toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });
  });
});
