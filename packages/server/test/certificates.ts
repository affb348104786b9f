/**
 * Test certificates made by the openssl CLI in a fresh folder: a CA, certificates it issues (server or
 * client), and self-signed ones (servers, self-signed clients, impostors). EC P-256 keys, a day or two valid.
 */
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

export interface TestCertificates {
  dir: string;
  /** The path of a file in the folder (`ca.crt`, `pki.key`, ...). */
  path(name: string): string;
  /** The text of a file in the folder. */
  pem(name: string): string;
  /** `<name>.crt` and `<name>.key`, self-signed, with openssl `-addext` arguments. */
  selfSigned(name: string, subject: string, extensions?: string[]): void;
  /** A self-signed CA certificate that may sign certificates (`<name>.crt`, `<name>.key`). */
  authority(name: string, subject: string): void;
  /** `<name>.crt` and `<name>.key` issued by `ca.crt`: the subjectAltName and the extended key usage. */
  issued(name: string, subject: string, san: string, usage?: 'clientAuth' | 'serverAuth'): void;
  /** RFC 8705 §3.1 `x5t#S256` of `<name>.crt`. */
  thumbprint(name: string): string;
}

export function testCertificates(prefix: string): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const path = (name: string) => join(dir, name);
  const pem = (name: string) => readFileSync(path(name), 'utf8');
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const selfSigned = (name: string, subject: string, extensions: string[] = []) => {
    openssl(
      'req',
      '-x509',
      ...ecKey,
      '-days',
      '2',
      '-subj',
      subject,
      ...extensions,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
    );
  };
  return {
    dir,
    path,
    pem,
    selfSigned,
    authority: (name, subject) =>
      selfSigned(name, subject, [
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
      ]),
    issued(name, subject, san, usage = 'clientAuth') {
      openssl('req', ...ecKey, '-subj', subject, '-keyout', `${name}.key`, '-out', `${name}.csr`);
      writeFileSync(path(`${name}.ext`), `subjectAltName=${san}\nextendedKeyUsage=${usage}\n`);
      openssl(
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-days',
        '1',
        '-extfile',
        `${name}.ext`,
        '-out',
        `${name}.crt`,
      );
    },
    thumbprint: (name) =>
      createHash('sha256')
        .update(new X509Certificate(pem(`${name}.crt`)).raw)
        .digest('base64url'),
  };
}
