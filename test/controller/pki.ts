// Test PKI with openssl: a CA, a server certificate for 127.0.0.1, client certificates named as
// asked (CN and DNS SAN), and a rogue CA with a client certificate the server must not trust.
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'pipe' });
}

/** Writes ca.crt, server.{crt,key}, NAME.{crt,key} for each client name, rogue.{crt,key} and rogue-ca.crt into `dir`. */
export async function pki(dir: string, clients: readonly string[] = ['agent']): Promise<void> {
  await fs.writeFile(path.join(dir, 'san.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl(['genpkey', '-algorithm', 'ed25519', '-out', 'ca.key'], dir);
  openssl(['req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=weir-test-ca', '-days', '1', '-out', 'ca.crt'], dir);
  for (const who of ['server', ...clients]) {
    const ext = who === 'server' ? 'san.cnf' : `${who}.cnf`;
    if (who !== 'server')
      await fs.writeFile(
        path.join(dir, ext),
        who === 'agent'
          ? 'subjectAltName=IP:127.0.0.1,DNS:localhost\n'
          : who.startsWith('system:node:')
            ? 'extendedKeyUsage=clientAuth\n'
            : `subjectAltName=DNS:${who}\n`,
      );
    openssl(['genpkey', '-algorithm', 'ed25519', '-out', `${who}.key`], dir);
    // A Kubernetes node's kubelet client certificate: O=system:nodes, CN=system:node:NAME.
    const subj = who.startsWith('system:node:') ? `/O=system:nodes/CN=${who}` : `/CN=${who}`;
    openssl(['req', '-new', '-key', `${who}.key`, '-subj', subj, '-out', `${who}.csr`], dir);
    openssl(
      [
        'x509',
        '-req',
        '-in',
        `${who}.csr`,
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-days',
        '1',
        '-extfile',
        ext,
        '-out',
        `${who}.crt`,
      ],
      dir,
    );
  }
  openssl(['genpkey', '-algorithm', 'ed25519', '-out', 'rogue-ca.key'], dir);
  openssl(['req', '-x509', '-new', '-key', 'rogue-ca.key', '-subj', '/CN=rogue', '-days', '1', '-out', 'rogue-ca.crt'], dir);
  openssl(['genpkey', '-algorithm', 'ed25519', '-out', 'rogue.key'], dir);
  openssl(['req', '-new', '-key', 'rogue.key', '-subj', '/CN=rogue', '-out', 'rogue.csr'], dir);
  openssl(
    [
      'x509',
      '-req',
      '-in',
      'rogue.csr',
      '-CA',
      'rogue-ca.crt',
      '-CAkey',
      'rogue-ca.key',
      '-CAcreateserial',
      '-days',
      '1',
      '-out',
      'rogue.crt',
    ],
    dir,
  );
}
