// The signing key from a Kubernetes Secret (data key `ed25519.key`, PEM), read with the
// in-cluster or kubeconfig credentials of @kubernetes/client-node.
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { signingKeyFromPem, type SigningKey } from '../bundle/sign.js';

export async function keyFromSecret(ref: string, kc: KubeConfig = defaultKubeConfig()): Promise<SigningKey> {
  const m = /^([a-z0-9-]+)\/([a-z0-9.-]+)$/.exec(ref);
  if (!m) throw new Error(`--key-secret ${ref}: expected NAMESPACE/NAME`);
  const api = kc.makeApiClient(CoreV1Api);
  const secret = await api.readNamespacedSecret({ namespace: m[1]!, name: m[2]! });
  const data = secret.data?.['ed25519.key'];
  if (!data)
    throw new Error(
      `Secret ${ref} has no data key ed25519.key (create it with: kubectl -n ${m[1]} create secret generic ${m[2]} --from-file=ed25519.key=key.pem)`,
    );
  return signingKeyFromPem(Buffer.from(data, 'base64'), `Secret ${ref} (ed25519.key)`);
}

export function defaultKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  return kc;
}
