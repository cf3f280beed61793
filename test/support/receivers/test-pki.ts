import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A PEM certificate and its private key. */
export interface Pem {
  cert: string;
  key: string;
}

/** A throwaway CA, a server certificate (localhost, 127.0.0.1), a client certificate, and a CA nobody uses. */
export interface TestPki {
  ca: Pem;
  server: Pem;
  client: Pem;
  /** Another CA: what a destination trusting the wrong CA has. */
  otherCa: Pem;
  /** A client certificate the other CA signed: one the mutual-TLS listener does not trust. */
  otherClient: Pem;
}

/** Certificates made with openssl in `dir` (EC P-256, valid for two days). */
export function makeTestPki(dir: string): TestPki {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const file = (name: string) => join(dir, name);
  const selfSigned = (name: string, cn: string) =>
    openssl(
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      '-subj',
      `/CN=${cn}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    );
  const signed = (name: string, cn: string, extensions: string, ca = 'ca') => {
    writeFileSync(file(`${name}.ext`), extensions);
    openssl(
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      `/CN=${cn}`,
    );
    openssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${ca}.pem`,
      '-CAkey',
      `${ca}.key`,
      '-CAcreateserial',
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
    );
  };
  selfSigned('ca', 'nest-audit-trail test CA');
  selfSigned('other-ca', 'some other CA');
  signed('server', 'localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  signed('client', 'nest-audit-trail client', 'extendedKeyUsage=clientAuth\n');
  signed('other-client', 'a stranger', 'extendedKeyUsage=clientAuth\n', 'other-ca');
  const pem = (name: string): Pem => ({
    cert: readFileSync(file(`${name}.pem`), 'utf8'),
    key: readFileSync(file(`${name}.key`), 'utf8'),
  });
  return {
    ca: pem('ca'),
    server: pem('server'),
    client: pem('client'),
    otherCa: pem('other-ca'),
    otherClient: pem('other-client'),
  };
}
