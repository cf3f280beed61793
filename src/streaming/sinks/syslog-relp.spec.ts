import { RelpReader, relpFrame } from './syslog-relp';

describe('RELP frames', () => {
  it('writes TXNR COMMAND DATALEN [SP DATA] LF, DATALEN in bytes', () => {
    expect(relpFrame(1, 'close').toString()).toBe('1 close 0\n');
    expect(relpFrame(7, 'syslog', '<13>1 é').toString()).toBe('7 syslog 8 <13>1 é\n');
  });

  it('reads frames split across chunks and several in one chunk', () => {
    const reader = new RelpReader();
    const wire = Buffer.concat([
      relpFrame(1, 'rsp', '200 OK\nrelp_version=0\ncommands=syslog'),
      relpFrame(2, 'rsp', '200 OK'),
      relpFrame(0, 'serverclose'),
    ]);
    const frames = [];
    for (let i = 0; i < wire.length; i += 5) frames.push(...reader.push(wire.subarray(i, i + 5)));
    expect(frames).toEqual([
      { txnr: 1, command: 'rsp', data: '200 OK\nrelp_version=0\ncommands=syslog' },
      { txnr: 2, command: 'rsp', data: '200 OK' },
      { txnr: 0, command: 'serverclose', data: '' },
    ]);
  });

  it('refuses bytes that are no RELP frame (a plain syslog port answering, say)', () => {
    expect(() => new RelpReader().push(Buffer.from('HTTP/1.1 400 Bad Request\r\n'))).toThrow(
      /not a RELP frame/,
    );
    expect(() => new RelpReader().push(Buffer.from('3 rsp 2 OKX'))).toThrow(/trailer/);
  });
});
