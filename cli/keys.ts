// `weir keys`: the bundle signing key for a cluster install. Creates an ed25519 key (or reads one)
// and prints the two objects deploy/ mounts: the Secret the controller signs with (--key-secret,
// data key ed25519.key) and the ConfigMap of the public key the agents trust (--trust).
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { generateSigningKey, loadSigningKey, privateKeyPem, publicKeyPem, type SigningKey } from '../controller/bundle/sign.js';
import { UsageError, type Command } from './command.js';
import { parseCommandLine } from './inputs.js';

const usage = `usage: weir keys [--key FILE] [--write-key FILE] [--namespace NS] [--secret NAME] [--trust-configmap NAME] [--public-only]

Prints, as Kubernetes manifests on stdout, the Secret holding the controller's ed25519 signing key
(data key ed25519.key) and the ConfigMap holding its public key for the agents (ed25519.pub):

  weir keys --write-key weir-signing.pem | kubectl apply -f -

  --key FILE              use this PEM private key instead of creating one
  --write-key FILE        also write the key (mode 0600) and FILE.pub; refuses to overwrite
  --namespace NS          namespace of both objects (default weir-system)
  --secret NAME           Secret name (default weir-signing-key, as deploy/controller.yaml's --key-secret)
  --trust-configmap NAME  ConfigMap name (default weir-trust, as deploy/agent.yaml mounts)
  --public-only           print only the ConfigMap (needs --key): give agents the key without the secret`;

const dns1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** The Secret and ConfigMap for a signing key, in the shape deploy/ expects. */
export function keyManifests(
  key: SigningKey,
  opts: { namespace: string; secret: string; configMap: string; publicOnly?: boolean },
): Record<string, unknown>[] {
  const labels = { 'app.kubernetes.io/part-of': 'weir' };
  const annotations = { 'weir.dev/key-id': key.keyId };
  const trust = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: opts.configMap, namespace: opts.namespace, labels, annotations },
    data: { 'ed25519.pub': publicKeyPem(key) },
  };
  if (opts.publicOnly) return [trust];
  const secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: opts.secret, namespace: opts.namespace, labels, annotations },
    type: 'Opaque',
    data: { 'ed25519.key': Buffer.from(privateKeyPem(key)).toString('base64') },
  };
  return [secret, trust];
}

export const keysCommand: Command = {
  name: 'keys',
  summary: 'create the bundle signing key and print its Secret and trust ConfigMap',
  usage,
  async run(argv, io) {
    const { values, positionals } = parseCommandLine(argv, {
      key: { type: 'string' },
      'write-key': { type: 'string' },
      namespace: { type: 'string', default: 'weir-system' },
      secret: { type: 'string', default: 'weir-signing-key' },
      'trust-configmap': { type: 'string', default: 'weir-trust' },
      'public-only': { type: 'boolean', default: false },
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
    for (const [flag, v] of [
      ['--namespace', values.namespace],
      ['--secret', values.secret],
      ['--trust-configmap', values['trust-configmap']],
    ] as const) {
      if (!dns1123.test(v) || v.length > 63)
        throw new UsageError(
          `${flag} ${JSON.stringify(v)} is not a valid Kubernetes name (lower-case letters, digits and '-', at most 63)`,
        );
    }
    if (values['public-only'] && values.key === undefined)
      throw new UsageError('--public-only needs --key FILE: a new key printed without its private half would be lost');
    let key: SigningKey;
    try {
      key = values.key !== undefined ? await loadSigningKey(path.resolve(io.cwd, values.key)) : generateSigningKey();
    } catch (err) {
      io.stderr(`weir keys: ${(err as Error).message}\n`);
      return 2;
    }
    if (values['write-key'] !== undefined) {
      const file = path.resolve(io.cwd, values['write-key']);
      try {
        await fs.mkdir(path.dirname(file), { recursive: true });
        await fs.writeFile(file, privateKeyPem(key), { mode: 0o600, flag: 'wx' });
        await fs.writeFile(`${file}.pub`, publicKeyPem(key), { flag: 'wx' });
      } catch (err) {
        io.stderr(`weir keys: cannot write ${values['write-key']}: ${(err as Error).message}\n`);
        return 2;
      }
    }
    const docs = keyManifests(key, {
      namespace: values.namespace,
      secret: values.secret,
      configMap: values['trust-configmap'],
      publicOnly: values['public-only'],
    });
    io.stdout(docs.map((d) => stringify(d, { lineWidth: 0 })).join('---\n'));
    io.stderr(
      `weir keys: ed25519 key ${key.keyId}${values['write-key'] !== undefined ? `, written to ${values['write-key']}` : ''}; ${values['public-only'] ? 'ConfigMap' : 'Secret and ConfigMap'} printed on stdout\n`,
    );
    return 0;
  },
};
