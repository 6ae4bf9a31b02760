import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { RUN_DIR } from './paths';

const run = promisify(execFile);

/** Test PKI made with openssl for the run: a CA, a server and client certificates, and bad ones. */
export interface TestPki {
  dir: string;
  /** The CA the broker trusts and that signed the server certificate. */
  ca: Buffer;
  /** A client certificate and key signed by the CA. */
  clientCert: Buffer;
  clientKey: Buffer;
  /** A CA that signed nothing the broker uses: trusting only it must fail. */
  otherCa: Buffer;
  /** A client certificate signed by the CA that expired. */
  expiredCert: Buffer;
  expiredKey: Buffer;
}

const TLS_DIR = join(RUN_DIR, 'tls');

async function openssl(...args: string[]): Promise<void> {
  await run('openssl', args, { cwd: TLS_DIR, timeout: 30_000 });
}

async function key(name: string): Promise<void> {
  await openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`);
}

async function selfSignedCa(name: string, subject: string): Promise<void> {
  await key(name);
  await openssl(
    'req',
    '-x509',
    '-new',
    '-key',
    `${name}.key`,
    '-out',
    `${name}.pem`,
    '-days',
    '2',
    '-subj',
    subject,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  );
}

async function signed(name: string, subject: string, days: number, extensions: string): Promise<void> {
  await key(name);
  await openssl('req', '-new', '-key', `${name}.key`, '-out', `${name}.csr`, '-subj', subject);
  writeFileSync(join(TLS_DIR, `${name}.ext`), extensions);
  await openssl(
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    `${name}.pem`,
    '-days',
    String(days),
    '-extfile',
    `${name}.ext`,
  );
}

/** Creates the PKI once per run (in .tmp/faults/tls) and returns it. Needs openssl. */
export async function testPki(): Promise<TestPki> {
  // Made once and kept (a running node reads them); made again when a day old (they last two).
  const made = existsSync(join(TLS_DIR, 'expired.pem')) ? statSync(join(TLS_DIR, 'ca.pem')).mtimeMs : 0;
  if (Date.now() - made > 24 * 3600_000) {
    mkdirSync(TLS_DIR, { recursive: true });
    await selfSignedCa('ca', '/CN=Warren fault-suite CA');
    await selfSignedCa('other-ca', '/CN=Some other CA');
    await signed('server', '/CN=localhost', 2, 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
    await signed('client', '/CN=warren-fault-client', 2, 'extendedKeyUsage=clientAuth\n');
    // -days -1: valid from now, expired a day before that, i.e. expired.
    await signed('expired', '/CN=warren-fault-expired', -1, 'extendedKeyUsage=clientAuth\n');
  }
  const read = (file: string): Buffer => readFileSync(join(TLS_DIR, file));
  return {
    dir: TLS_DIR,
    ca: read('ca.pem'),
    clientCert: read('client.pem'),
    clientKey: read('client.key'),
    otherCa: read('other-ca.pem'),
    expiredCert: read('expired.pem'),
    expiredKey: read('expired.key'),
  };
}

/** Whether openssl is there to make the PKI. */
export async function opensslMissing(): Promise<string | undefined> {
  try {
    await run('openssl', ['version'], { timeout: 5000 });
    return undefined;
  } catch {
    return 'openssl is not installed: the test CA and certificates cannot be made';
  }
}
