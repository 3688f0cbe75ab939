// deploy/ works as written: every folder is a kustomization that builds, every object it builds
// (and `weir keys` and `weir render` print) is valid against the vendored Kubernetes schemas and
// CRDs, strictly, and every Secret, ConfigMap and name the pods rely on is made by something the
// install guide applies: cert-manager Certificates for mTLS, `weir keys` for the signing key.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import type { CommandIO } from '../../cli/command.js';
import { main } from '../../cli/main.js';
import { commands } from '../../cli/commands.js';
import { listenTransportFrom } from '../../cli/agent.js';
import { parseListen } from '../../cli/flags.js';
import { checkAgentListen } from '../../controller/agent/server.js';
import { signingKeyFromPem } from '../../controller/bundle/sign.js';
import { build, customResourceValidators, kubeErrors } from '../support/kube.js';

const root = path.resolve(import.meta.dirname, '../..');
const deploy = path.join(root, 'deploy');
// Argo CD's health-check fixtures (its own test format, read by test/controller/deploy.test.ts), not manifests.
const notManifests = path.join(deploy, 'argocd/health');
// A patch of Argo CD's own ConfigMap, applied with `kubectl patch`; validated below as a ConfigMap.
const patchFiles = [path.join(deploy, 'argocd/argocd-cm-patch.yaml')];
const temps: string[] = [];
afterAll(() => temps.forEach((d) => rmSync(d, { recursive: true, force: true })));

function folders(dir: string): string[] {
  if (dir.startsWith(notManifests)) return [];
  const subs = readdirSync(dir)
    .map((e) => path.join(dir, e))
    .filter((p) => statSync(p).isDirectory());
  return [dir, ...subs.flatMap(folders)];
}
const yamlFiles = (dir: string): string[] =>
  dir.startsWith(notManifests)
    ? []
    : readdirSync(dir).flatMap((e) => {
        const p = path.join(dir, e);
        return statSync(p).isDirectory() ? yamlFiles(p) : /\.ya?ml$/.test(e) ? [p] : [];
      });

async function weir(args: string[], cwd = root): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CommandIO = { stdout: (s) => void (out += s), stderr: (s) => void (err += s), cwd, env: { NO_COLOR: '1' }, isTTY: false };
  const code = await main(args, io);
  return { code, out, err };
}
const docs = (text: string) => parseAllDocuments(text).map((d) => d.toJS() as Record<string, unknown>);
// biome-ignore lint/suspicious/noExplicitAny: parsed manifests of many kinds, read field by field
type Obj = Record<string, any>;
const named = (objs: Obj[], kind: string, name: string) => objs.find((o) => o['kind'] === kind && o['metadata']?.name === name);

const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;

describe('deploy/', () => {
  const dirs = folders(deploy);

  it('every folder is a kustomization that builds, and every manifest is part of a build', () => {
    expect(dirs.map((d) => path.relative(deploy, d) || '.').sort()).toEqual(['.', 'argocd', 'cert-manager', 'crd', 'flux']);
    const built = new Set<string>();
    for (const d of dirs) {
      expect(existsSync(path.join(d, 'kustomization.yaml')), d).toBe(true);
      const b = build(d);
      expect(b.errors, d).toEqual([]);
      expect(b.objects.length, d).toBeGreaterThan(0);
      b.files.forEach((f) => built.add(f));
    }
    const orphans = yamlFiles(deploy).filter((f) => !built.has(f) && !patchFiles.includes(f));
    expect(orphans).toEqual([]);
  });

  it.runIf(kubectl)('kubectl kustomize builds every folder to the same objects (where kubectl is installed)', () => {
    for (const d of dirs) {
      const r = spawnSync('kubectl', ['kustomize', d], { encoding: 'utf8' });
      expect(r.stderr, d).toBe('');
      expect(r.status, d).toBe(0);
      const key = (o: Obj) => `${o['kind']}/${o['metadata']?.namespace ?? ''}/${o['metadata']?.name}`;
      const sort = (xs: Obj[]) => [...xs].sort((a, b) => key(a).localeCompare(key(b)));
      expect(sort(docs(r.stdout)), d).toEqual(sort(build(d).objects));
    }
  });

  it('every object validates strictly against the Kubernetes schemas and the CRDs', () => {
    let n = 0;
    for (const d of dirs) {
      for (const o of build(d).objects) {
        expect(
          kubeErrors(o),
          `${path.relative(root, d)}: ${String(o['kind'])} ${String((o['metadata'] as Obj | undefined)?.['name'])}`,
        ).toEqual([]);
        n++;
      }
    }
    expect(n).toBeGreaterThan(20);
    for (const f of patchFiles) for (const o of docs(readFileSync(f, 'utf8'))) expect(kubeErrors(o), f).toEqual([]);
  });

  it('the validation is strict: a misspelled field fails for built-in kinds, CRDs, and ObjectMeta', () => {
    const agent = build(deploy).objects.find((o) => o['kind'] === 'DaemonSet') as Obj;
    const typo = structuredClone(agent);
    typo['spec']['template']['spec']['dnsPolicyy'] = 'ClusterFirstWithHostNet';
    expect(kubeErrors(typo).join('\n')).toMatch(/additional properties.*dnsPolicyy/);
    const cert = structuredClone(named(build(path.join(deploy, 'cert-manager')).objects, 'Certificate', 'weir-controller-tls')!) as Obj;
    cert['spec']['dnsName'] = ['x'];
    expect(kubeErrors(cert).join('\n')).toMatch(/dnsName/);
    const rollout = structuredClone(named(build(path.join(deploy, 'flux')).objects, 'PolicyRollout', 'policies')!) as Obj;
    rollout['metadata']['lables'] = {};
    expect(kubeErrors(rollout).join('\n')).toMatch(/lables/);
    expect(kubeErrors({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } })).toEqual([
      'example.com/v1/Widget: no schema vendored under test/schemas/kubernetes',
    ]);
    expect([...customResourceValidators().keys()]).toEqual(
      expect.arrayContaining([
        'cert-manager.io/v1/Certificate',
        'cert-manager.io/v1/Issuer',
        'source.toolkit.fluxcd.io/v1/GitRepository',
        'kustomize.toolkit.fluxcd.io/v1/Kustomization',
        'argoproj.io/v1alpha1/Application',
        'weir.dev/v1alpha1/PolicyRollout',
      ]),
    );
  });

  it('works as written: what the pods mount and call is made by cert-manager, `weir keys`, the guide, Kubernetes or the base itself', async () => {
    const base = build(deploy).objects as Obj[];
    const certs = build(path.join(deploy, 'cert-manager')).objects as Obj[];
    const keys = docs((await weir(['keys'])).out) as Obj[];
    const guide = readFileSync(path.join(root, 'docs/install.md'), 'utf8');
    // the guide makes the controller's CA ConfigMap (both ways), and Kubernetes publishes its CA in every namespace
    expect(guide.match(/kubectl -n weir-system create configmap weir-controller-ca /g)).toHaveLength(2);
    const made = new Set([
      ...[...base, ...keys].map((o) => `${o['kind']}/${o['metadata'].namespace}/${o['metadata'].name}`),
      ...certs.filter((c) => c['kind'] === 'Certificate').map((c) => `Secret/${c['metadata'].namespace}/${c['spec'].secretName}`),
      'ConfigMap/weir-system/weir-controller-ca',
      'ConfigMap/weir-system/kube-root-ca.crt',
    ]);
    for (const w of base.filter((o) => o['kind'] === 'Deployment' || o['kind'] === 'DaemonSet')) {
      const ns = w['metadata'].namespace;
      for (const v of w['spec'].template.spec.volumes ?? []) {
        if (v.secret) expect(made, `${w['metadata'].name} volume ${v.name}`).toContain(`Secret/${ns}/${v.secret.secretName}`);
        if (v.configMap) expect(made, `${w['metadata'].name} volume ${v.name}`).toContain(`ConfigMap/${ns}/${v.configMap.name}`);
        if (v.persistentVolumeClaim) expect(made).toContain(`PersistentVolumeClaim/${ns}/${v.persistentVolumeClaim.claimName}`);
      }
      expect(made).toContain(`ServiceAccount/${ns}/${w['spec'].template.spec.serviceAccountName}`);
    }
    const controller = named(base, 'Deployment', 'weir-controller')!;
    const keySecret = (controller['spec'].template.spec.containers[0].args as string[])
      .find((a) => a.startsWith('--key-secret='))!
      .slice('--key-secret='.length);
    expect(made).toContain(`Secret/${keySecret}`);
    const agent = named(base, 'DaemonSet', 'weir-agent')!;
    expect(agent['spec'].template.spec.hostNetwork).toBe(true);
    expect(agent['spec'].template.spec.dnsPolicy).toBe('ClusterFirstWithHostNet');
    const url = new URL(
      (agent['spec'].template.spec.containers[0].args as string[])
        .find((a) => a.startsWith('--controller='))!
        .slice('--controller='.length),
    );
    const service = named(base, 'Service', 'weir-controller')!;
    expect(url.hostname).toBe(`${service['metadata'].name}.${service['metadata'].namespace}.svc`);
    expect(service['spec'].ports.map((p: Obj) => p['port'])).toContain(Number(url.port));
    expect(named(certs, 'Certificate', 'weir-controller-tls')!['spec'].dnsNames).toContain(url.hostname);
    expect(named(certs, 'Certificate', 'weir-controller-tls')!['spec'].usages).toContain('server auth');
    // agents speak for their node with its kubelet client certificate; the controller trusts the cluster CA
    const agentArgs = agent['spec'].template.spec.containers[0].args as string[];
    const agentMounts = agent['spec'].template.spec.containers[0].volumeMounts as Obj[];
    const pki = agentMounts.find((m) => m['name'] === 'kubelet-pki')!;
    expect(agent['spec'].template.spec.volumes.find((v: Obj) => v['name'] === 'kubelet-pki').hostPath).toEqual({
      path: pki['mountPath'],
      type: 'Directory',
    });
    expect(pki['readOnly']).toBe(true);
    expect(agentArgs).toContain(`--tls-cert=${pki['mountPath']}/kubelet-client-current.pem`);
    expect(agentArgs).toContain(`--tls-key=${pki['mountPath']}/kubelet-client-current.pem`);
    const caMount = agentMounts.find((m) => m['name'] === 'controller-ca')!;
    expect(agentArgs).toContain(`--tls-ca=${caMount['mountPath']}/ca.crt`);
    expect(agent['spec'].template.spec.containers[0].securityContext).toMatchObject({ runAsUser: 0, privileged: false });
    const ctlArgs = controller['spec'].template.spec.containers[0].args as string[];
    const clientCa = (controller['spec'].template.spec.containers[0].volumeMounts as Obj[]).find((m) => m['name'] === 'client-ca')!;
    expect(ctlArgs).toContain(`--tls-ca=${clientCa['mountPath']}/ca.crt`);
    expect(controller['spec'].template.spec.volumes.find((v: Obj) => v['name'] === 'client-ca').configMap).toEqual({
      name: 'kube-root-ca.crt',
      items: [{ key: 'ca.crt', path: 'ca.crt' }],
    });
    // the agent's endpoint is on the node's address, over TLS, for clients weir's CA signed; the agent accepts these flags
    const tlsMount = agentMounts.find((m) => m['name'] === 'agent-tls')!;
    expect(agent['spec'].template.spec.volumes.find((v: Obj) => v['name'] === 'agent-tls').secret).toEqual({
      secretName: 'weir-agent-tls',
    });
    const listenArgs = agentArgs.filter((a) => a.startsWith('--listen'));
    expect(listenArgs).toEqual([
      '--listen=[$(NODE_IP)]:8471',
      `--listen-cert=${tlsMount['mountPath']}/tls.crt`,
      `--listen-key=${tlsMount['mountPath']}/tls.key`,
      `--listen-client-ca=${tlsMount['mountPath']}/ca.crt`,
    ]);
    expect(agent['spec'].template.spec.containers[0].env).toContainEqual({
      name: 'NODE_IP',
      valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } },
    });
    const flag = (name: string) => listenArgs.find((a) => a.startsWith(`--${name}=`))!.slice(name.length + 3);
    const { host } = parseListen(flag('listen').replace('$(NODE_IP)', '10.0.0.5'), '--listen');
    const serving = listenTransportFrom(
      { 'listen-cert': flag('listen-cert'), 'listen-key': flag('listen-key'), 'listen-client-ca': flag('listen-client-ca') },
      '/',
    );
    expect(() => checkAgentListen(host, serving)).not.toThrow();
    expect(() => checkAgentListen(host, {})).toThrow(/not a loopback address/);
    const agentTls = named(certs, 'Certificate', 'weir-agent-tls')!;
    expect(agentTls['spec'].dnsNames).toEqual(['weir-agent.weir-system.svc']);
    expect(agentTls['spec'].usages).toContain('server auth');
    expect(agentTls['spec'].usages).not.toContain('client auth');
    expect(named(certs, 'Certificate', 'weir-events-reader')!['spec'].usages).toEqual(expect.arrayContaining(['client auth']));
    expect(named(certs, 'Certificate', 'weir-events-reader')!['spec'].usages).not.toContain('server auth');
    for (const c of certs.filter((x) => x['kind'] === 'Certificate' && !x['spec'].isCA)) expect(c['spec'].issuerRef.name).toBe('weir-ca');
    const agentService = named(base, 'Service', 'weir-agent')!;
    expect(agentService['spec']).toMatchObject({ clusterIP: 'None', selector: agent['spec'].selector.matchLabels });
    expect(agent['spec'].template.spec.containers[0].ports).toContainEqual({ name: 'api', containerPort: 8471, protocol: 'TCP' });
    const trustMount = (agent['spec'].template.spec.containers[0].volumeMounts as Obj[]).find((m) => m['name'] === 'trust')!;
    expect(agent['spec'].template.spec.containers[0].args as string[]).toContain(`--trust=${trustMount['mountPath']}/ed25519.pub`);
    expect(Object.keys(named(keys, 'ConfigMap', 'weir-trust')!['data'])).toEqual(['ed25519.pub']);
    // the Flux Kustomization health-checks the PolicyRollout its folder creates
    const flux = build(path.join(deploy, 'flux')).objects as Obj[];
    const sync = flux.find((o) => o['kind'] === 'Kustomization')!;
    const rollout = flux.find((o) => o['kind'] === 'PolicyRollout')!;
    expect(sync['spec'].healthChecks).toContainEqual({
      apiVersion: rollout['apiVersion'],
      kind: 'PolicyRollout',
      name: rollout['metadata'].name,
      namespace: rollout['metadata'].namespace,
    });
    expect(sync['spec'].sourceRef.name).toBe(flux.find((o) => o['kind'] === 'GitRepository')!['metadata'].name);
    // the Argo CD Application names the plugin its ConfigMap configures
    const argo = build(path.join(deploy, 'argocd')).objects as Obj[];
    const plugin = parse(named(argo, 'ConfigMap', 'weir-cmp-plugin')!['data']['plugin.yaml'] as string) as Obj;
    expect(argo.find((o) => o['kind'] === 'Application')!['spec'].source.plugin.name).toBe(
      `${plugin['metadata'].name}-${plugin['spec'].version}`,
    );
  });
});

describe('weir keys', () => {
  it('prints a Secret and a trust ConfigMap that validate strictly and hold one ed25519 key pair', async () => {
    const r = await weir(['keys']);
    expect(r.code).toBe(0);
    const [secret, trust] = docs(r.out) as Obj[];
    expect(kubeErrors(secret!)).toEqual([]);
    expect(kubeErrors(trust!)).toEqual([]);
    expect(secret!['metadata']).toMatchObject({ name: 'weir-signing-key', namespace: 'weir-system' });
    const key = signingKeyFromPem(Buffer.from(secret!['data']['ed25519.key'] as string, 'base64'), 'secret');
    expect(trust!['data']['ed25519.pub']).toBe(key.publicKey.export({ type: 'spki', format: 'pem' }).toString());
    expect(secret!['metadata'].annotations['weir.dev/key-id']).toBe(key.keyId);
    expect(r.err).toContain(key.keyId);
    // a new key each time
    const again = docs((await weir(['keys'])).out) as Obj[];
    expect(again[0]!['data']['ed25519.key']).not.toBe(secret!['data']['ed25519.key']);
  });

  it('--write-key keeps the key (0600, never overwritten); --key and --public-only reuse it', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-keys-'));
    temps.push(dir);
    const first = await weir(['keys', '--write-key', 'k/sign.pem', '--namespace', 'sec'], dir);
    expect(first.code).toBe(0);
    expect(statSync(path.join(dir, 'k/sign.pem')).mode & 0o777).toBe(0o600);
    const fromFile = signingKeyFromPem(readFileSync(path.join(dir, 'k/sign.pem')), 'file');
    expect(readFileSync(path.join(dir, 'k/sign.pem.pub'), 'utf8')).toBe(
      fromFile.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    );
    expect((docs(first.out) as Obj[]).map((d) => d['metadata'].namespace)).toEqual(['sec', 'sec']);
    const again = await weir(['keys', '--write-key', 'k/sign.pem'], dir);
    expect(again.code).toBe(2);
    expect(again.err).toMatch(/cannot write k\/sign\.pem: .*EEXIST/);
    const pub = await weir(['keys', '--key', 'k/sign.pem', '--public-only', '--trust-configmap', 'trust'], dir);
    expect(pub.code).toBe(0);
    const only = docs(pub.out) as Obj[];
    expect(only.map((d) => `${d['kind']}/${d['metadata'].name}`)).toEqual(['ConfigMap/trust']);
    expect(only[0]!['data']['ed25519.pub']).toBe(readFileSync(path.join(dir, 'k/sign.pem.pub'), 'utf8'));
  });

  it('refuses what would not work: bad names, --public-only without a key, a key that is not ed25519', async () => {
    expect((await weir(['keys', '--namespace', 'Weir_System'])).code).toBe(2);
    expect((await weir(['keys', '--public-only'])).code).toBe(2);
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-keys-'));
    temps.push(dir);
    writeFileSync(
      path.join(dir, 'rsa.pem'),
      (await import('node:crypto')).generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
    );
    const r = await weir(['keys', '--key', 'rsa.pem'], dir);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/rsa\.pem: key type is rsa, weir signs with ed25519/);
  });
});

describe('weir render', () => {
  it('prints manifests that validate: the PolicyRollout strictly against the CRD, the policies as the kinds weir reads', async () => {
    const r = await weir(['render', '--revision', '0123456789abcdef', '--repository', 'https://git.example.com/p.git', 'policies/network']);
    expect(r.code).toBe(0);
    const out = docs(r.out) as Obj[];
    const rollout = out.filter((o) => o['kind'] === 'PolicyRollout');
    expect(rollout).toHaveLength(1);
    expect(kubeErrors(rollout[0]!)).toEqual([]);
    const policies = out.filter((o) => o['kind'] !== 'PolicyRollout');
    expect(policies.length).toBeGreaterThan(3);
    for (const p of policies) {
      expect(['CiliumNetworkPolicy', 'CiliumClusterwideNetworkPolicy', 'NetworkPolicy']).toContain(p['kind']);
      expect(p['metadata'].name, JSON.stringify(p['metadata'])).toMatch(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
    }
    // weir lint accepts what render printed
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-render-'));
    temps.push(dir);
    writeFileSync(path.join(dir, 'rendered.yaml'), r.out);
    expect((await weir(['lint', 'rendered.yaml', '--quiet'], dir)).code).toBe(0);
  });
});

describe('docs/install.md', () => {
  const doc = readFileSync(path.join(root, 'docs/install.md'), 'utf8');
  const heredocs = [...doc.matchAll(/<<'EOF'\n([\s\S]*?)\nEOF\n/g)].map((m) => m[1]!);

  it('the manifests it applies inline are valid: the PolicyRollout strictly, the TracingPolicy for weir lint and build', async () => {
    const inline = heredocs.flatMap((h) => docs(h)) as Obj[];
    expect(inline.map((o) => o['kind'])).toEqual(['PolicyRollout', 'TracingPolicy']);
    expect(kubeErrors(inline[0]!)).toEqual([]);
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-install-doc-'));
    temps.push(dir);
    writeFileSync(path.join(dir, 'protect-demo-secret.yaml'), heredocs[1]!);
    const lint = await weir(['lint', 'protect-demo-secret.yaml'], dir);
    expect(lint.out).toMatch(/^0 errors, 0 warnings/m);
    writeFileSync(
      path.join(dir, 'inventory.yaml'),
      'apiVersion: weir.dev/v1alpha1\nkind: Inventory\nmetadata: {name: i}\nspec:\n  nodes: [{name: n1}]\n  pods: [{name: a, namespace: default, node: n1, ip: 10.0.0.1}]\n',
    );
    expect((await weir(['build', 'protect-demo-secret.yaml', '--inventory', 'inventory.yaml', '--out', 'bundle'], dir)).code).toBe(0);
  });

  it('every deploy/ path, weir command and flag of a weir command it names exists', async () => {
    for (const m of doc.matchAll(/(?<![\w/])deploy\/[\w./-]*[\w-]/g)) expect(existsSync(path.join(root, m[0])), m[0]).toBe(true);
    const code = [...doc.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!.replace(/\\\n/g, ' ')).join('\n');
    let n = 0;
    for (const m of code.matchAll(/^(?:podman run [^\n]*weir:[\d.]+|weir) (\w+)([^\n]*)/gm)) {
      expect(Object.keys(commands), m[0]).toContain(m[1]);
      const usage = (await commands[m[1]!]!()).usage;
      for (const f of m[2]!.replace(/\$\([^)]*\)/g, '').matchAll(/(?<=\s)--[\w-]+/g)) expect(usage, `${m[1]} ${f[0]}`).toContain(f[0]);
      n++;
    }
    expect(n).toBeGreaterThan(5);
    expect(doc).toContain('dnsPolicy: ClusterFirstWithHostNet');
  });
});
