// The seed compiler: a deliberately small network compiler that lets the controller, the agents,
// the tests and the demo run end to end before issue #3's compiler lands. It covers the demo's
// subset (CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy / NetworkPolicy with label
// selectors, entities, L4 ports, deny rules) and refuses anything else with an error diagnostic,
// so a policy it does not understand is never rolled out in a weakened form.
// Images follow bpf/include/weir_net.h exactly; controller/agent/emulated-datapath.ts reads them back.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { loadSources, type PolicyDocument, type SourceFile } from '../../compiler/load/index.js';
import { diagnostic, type Diagnostic } from '../../compiler/diagnostics.js';
import { projectFile } from '../../compiler/project.js';
import type { BundleManifest, MapImage } from '../../compiler/bundle/types.js';
import { canonicalJson, makeBundle, sha256hex } from '../bundle/codec.js';
import type { CompileRequest, CompileResult, Compiler } from './compiler.js';
import { GitDocuments } from './git-tree.js';

export const SEED_COMPILER_VERSION = 'weir-seed/0.1.0';

export const ID_ANY = 0;
export const ID_HOST = 1;
export const ID_WORLD = 2;
export const ID_GLOBAL_MIN = 256;
export const DIR_INGRESS = 0;
export const DIR_EGRESS = 1;
export const VERDICT_ALLOW = 0;
export const VERDICT_DENY = 1;
export const EP_INGRESS_ENFORCED = 1;
export const EP_EGRESS_ENFORCED = 2;
const PROTO: Record<string, number> = { TCP: 6, UDP: 17, SCTP: 132, ICMP: 1, ANY: 0 };

export interface Workload {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  ips: string[];
  node: string;
}

/** The endpoint table the agent receives (JSON table `endpoints`). */
export interface EndpointEntry {
  endpoint: string;
  endpointId: number;
  identity: number;
  flags: number;
  ips: string[];
  node: string;
}

export interface CookieEntry {
  cookie: number;
  policy: string;
  file: string;
  line: number;
  commit?: string;
}

interface PolicyEntry {
  identity: number;
  direction: number;
  protocol: number;
  port: number; // 0 = any
  verdict: number;
  cookie: number;
}


let abiCache: string | undefined;

/** sha256 of bpf/include/weir_net.h, the same digest the project compiler records. */
export function abiDigest(): string {
  return (abiCache ??= sha256hex(readFileSync(projectFile('bpf/include/weir_net.h'))));
}

// --- encoding (weir_net.h) -------------------------------------------------

export function encodePolicyKey(e: Pick<PolicyEntry, 'identity' | 'direction' | 'protocol' | 'port'>): Buffer {
  const b = Buffer.alloc(12);
  const prefixlen = e.protocol === 0 ? 40 : e.port === 0 ? 48 : 64;
  b.writeUInt32LE(prefixlen, 0);
  b.writeUInt32LE(e.identity, 4);
  b.writeUInt8(e.direction, 8);
  b.writeUInt8(e.protocol, 9);
  b.writeUInt16BE(e.port, 10);
  return b;
}

export function encodePolicyValue(e: Pick<PolicyEntry, 'verdict' | 'cookie'>): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt8(e.verdict, 0);
  b.writeUInt32LE(e.verdict === VERDICT_DENY ? 0 : 1, 8); // precedence
  b.writeUInt32LE(e.cookie, 12);
  return b;
}

export function encodeIpcacheKey(ip: string): Buffer {
  const b = Buffer.alloc(24);
  const v4 = ip.split('.').map(Number);
  if (v4.length !== 4 || v4.some((x) => !(x >= 0 && x <= 255))) throw new Error(`not an IPv4 address: ${ip}`);
  b.writeUInt32LE(32 + 32, 0);
  b.writeUInt8(4, 4);
  for (let i = 0; i < 4; i++) b.writeUInt8(v4[i]!, 8 + i);
  return b;
}

export function encodeIpcacheValue(identity: number, flags = 0): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(identity, 0);
  b.writeUInt32LE(flags, 4);
  return b;
}

function image(name: string, keyType: string, valueType: string, keySize: number, valueSize: number, maxEntries: number, records: [Buffer, Buffer][], blobs: Map<string, Buffer>, extra: Partial<MapImage> = {}): MapImage {
  records.sort(([a], [b]) => Buffer.compare(a, b));
  const blob = Buffer.concat(records.flatMap(([k, v]) => [k, v]));
  const digest = sha256hex(blob);
  blobs.set(digest, blob);
  return { name, keyType, valueType, type: 'lpm_trie', keySize, valueSize, maxEntries, entries: records.length, digest, ...extra };
}

function table(name: string, value: unknown, blobs: Map<string, Buffer>): BundleManifest['tables'][number] {
  const blob = canonicalJson(value);
  const digest = sha256hex(blob);
  blobs.set(digest, blob);
  return { name, digest, mediaType: 'application/json' };
}

// --- inventory -----------------------------------------------------------

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
function rec(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}
function labelsOf(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(rec(v))) if (typeof x === 'string') out[k] = x;
  return out;
}

export function workloadsOf(docs: PolicyDocument[]): Workload[] {
  const out: Workload[] = [];
  for (const d of docs) {
    if (d.kind === 'Pod') {
      const md = rec(d.value['metadata']);
      const st = rec(d.value['status']);
      const ips = [str(st['podIP'])].filter((x): x is string => !!x);
      out.push({ namespace: d.namespace ?? 'default', name: d.name, labels: labelsOf(md['labels']), ips, node: str(rec(d.value['spec'])['nodeName']) ?? 'node-1' });
    } else if (d.kind === 'Inventory') {
      const spec = rec(d.value['spec']);
      const list = Array.isArray(spec['workloads']) ? spec['workloads'] : Array.isArray(spec['pods']) ? spec['pods'] : [];
      for (const w of list as unknown[]) {
        const r = rec(w);
        const ips = Array.isArray(r['ips']) ? (r['ips'] as unknown[]).filter((x): x is string => typeof x === 'string') : [str(r['ip'])].filter((x): x is string => !!x);
        out.push({ namespace: str(r['namespace']) ?? 'default', name: str(r['name']) ?? '?', labels: labelsOf(r['labels']), ips, node: str(r['node']) ?? 'node-1' });
      }
    }
  }
  return out.sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
}

function matches(sel: unknown, labels: Record<string, string>): boolean {
  const ml = labelsOf(rec(sel)['matchLabels']);
  return Object.entries(ml).every(([k, v]) => labels[k.replace(/^(k8s|any):/, '')] === v);
}

// --- compile ---------------------------------------------------------------

const supportedRuleKeys = new Set(['fromEndpoints', 'toEndpoints', 'fromEntities', 'toEntities', 'toPorts', 'from', 'to', 'ports']);

export class SeedCompiler implements Compiler {
  readonly name = SEED_COMPILER_VERSION;
  private readonly git = new GitDocuments();

  async compile(req: CompileRequest): Promise<CompileResult> {
    const r = await this.git.read(req.root, req.commit, req.paths);
    if ('error' in r) return { ok: false, diagnostics: [r.error], compiler: SEED_COMPILER_VERSION };
    return compileDocuments(r.documents, r.diagnostics, { revision: r.commit, paths: req.paths });
  }

  async compileFiles(files: SourceFile[], revision: string): Promise<CompileResult> {
    const loaded = loadSources(files);
    return compileDocuments(loaded.documents, loaded.diagnostics, { revision, paths: ['cluster'] });
  }
}

export function compileDocuments(documents: PolicyDocument[], loadDiagnostics: Diagnostic[], source: { revision?: string; paths: string[] }): CompileResult {
  const diagnostics: Diagnostic[] = [...loadDiagnostics];
  const workloads = workloadsOf(documents);
  const policies = documents.filter((d) => d.family === 'network');
  for (const d of documents) {
    if (d.family === 'runtime' || d.family === 'falco' || d.family === 'psp') {
      diagnostics.push(diagnostic('controller/seed-unsupported', 'warning', `${d.kind} ${d.name} is not compiled by the controller's seed compiler (runtime policies need issue #5's compiler); it is left out of the bundle`, d.span));
    }
  }

  // Identities: one per distinct (namespace, labels), numbered from 256 in a stable order.
  const idKey = (w: Workload) => `${w.namespace}|${Object.entries(w.labels).sort().map(([k, v]) => `${k}=${v}`).join(',')}`;
  const keys = [...new Set(workloads.map(idKey))].sort();
  const identityOf = new Map(keys.map((k, i) => [k, ID_GLOBAL_MIN + i]));
  const widOf = new Map(workloads.map((w) => [w, identityOf.get(idKey(w))!]));
  const wid = (w: Workload) => widOf.get(w)!;

  const cookies: CookieEntry[] = [];
  const perEndpoint = new Map<string, { entries: PolicyEntry[]; flags: number }>();
  for (const w of workloads) perEndpoint.set(`${w.namespace}/${w.name}`, { entries: [], flags: 0 });

  const peersOf = (rule: Record<string, unknown>, dir: 'from' | 'to', policyNs: string | undefined, k8s: boolean, d: PolicyDocument, at: (string | number)[]): number[] | undefined => {
    const ids = new Set<number>();
    let any = true;
    if (k8s) {
      const peers = rule[dir];
      if (Array.isArray(peers)) {
        any = false;
        peers.forEach((p, i) => {
          const r = rec(p);
          if (r['ipBlock']) {
            diagnostics.push(diagnostic('controller/seed-unsupported', 'error', 'ipBlock peers need the project compiler (issue #3)', d.locate([...at, dir, i, 'ipBlock'])));
            return;
          }
          for (const w of workloads) {
            const nsOk = r['namespaceSelector'] ? true : w.namespace === policyNs;
            if (nsOk && (!r['podSelector'] || matches(r['podSelector'], w.labels))) ids.add(wid(w));
          }
        });
      }
    } else {
      const eps = rule[dir === 'from' ? 'fromEndpoints' : 'toEndpoints'];
      const ents = rule[dir === 'from' ? 'fromEntities' : 'toEntities'];
      if (Array.isArray(eps)) {
        any = false;
        for (const sel of eps) {
          const nsLabel = labelsOf(rec(sel)['matchLabels'])['k8s:io.kubernetes.pod.namespace'] ?? labelsOf(rec(sel)['matchLabels'])['io.kubernetes.pod.namespace'];
          for (const w of workloads) {
            const ns = nsLabel ?? policyNs;
            if (ns !== undefined && w.namespace !== ns) continue;
            const l = { ...w.labels, 'io.kubernetes.pod.namespace': w.namespace };
            if (matches(sel, l)) ids.add(wid(w));
          }
        }
      }
      if (Array.isArray(ents)) {
        any = false;
        for (const e of ents) {
          if (e === 'all') return [ID_ANY];
          if (e === 'world' || e === 'world-ipv4') ids.add(ID_WORLD);
          else if (e === 'host') ids.add(ID_HOST);
          else if (e === 'cluster') {
            ids.add(ID_HOST);
            for (const w of workloads) ids.add(wid(w));
          } else diagnostics.push(diagnostic('controller/seed-unsupported', 'error', `entity ${String(e)} needs the project compiler (issue #3)`, d.locate(at)));
        }
      }
    }
    if (any) return [ID_ANY];
    return [...ids].sort((a, b) => a - b);
  };

  for (const d of policies) {
    const v = d.value;
    const spec = rec(v['spec']);
    const k8s = d.kind === 'NetworkPolicy';
    const clusterwide = d.kind === 'CiliumClusterwideNetworkPolicy';
    const policyNs = clusterwide ? undefined : d.namespace ?? 'default';
    const selector = k8s ? spec['podSelector'] : spec['endpointSelector'];
    if (!k8s && spec['endpointSelector'] === undefined) {
      diagnostics.push(diagnostic('controller/seed-unsupported', 'error', `${d.kind} ${d.name} has no spec.endpointSelector; the seed compiler needs one (nodeSelector and specs[] need issue #3's compiler)`, d.span));
      continue;
    }
    const selected = workloads.filter((w) => (policyNs === undefined || w.namespace === policyNs) && matches(selector, w.labels));
    const sections: [string, number, number, 'from' | 'to'][] = k8s
      ? [['ingress', DIR_INGRESS, VERDICT_ALLOW, 'from'], ['egress', DIR_EGRESS, VERDICT_ALLOW, 'to']]
      : [['ingress', DIR_INGRESS, VERDICT_ALLOW, 'from'], ['egress', DIR_EGRESS, VERDICT_ALLOW, 'to'], ['ingressDeny', DIR_INGRESS, VERDICT_DENY, 'from'], ['egressDeny', DIR_EGRESS, VERDICT_DENY, 'to']];
    const policyTypes = Array.isArray(spec['policyTypes']) ? (spec['policyTypes'] as unknown[]) : undefined;
    for (const [key, dir, verdict, peerDir] of sections) {
      const rules = spec[key];
      const enforced = rules !== undefined || (k8s && (policyTypes ? policyTypes.includes(dir === DIR_INGRESS ? 'Ingress' : 'Egress') : dir === DIR_INGRESS));
      if (enforced) for (const w of selected) perEndpoint.get(`${w.namespace}/${w.name}`)!.flags |= dir === DIR_INGRESS ? EP_INGRESS_ENFORCED : EP_EGRESS_ENFORCED;
      if (!Array.isArray(rules)) continue;
      rules.forEach((r0, i) => {
        const rule = rec(r0);
        const at = ['spec', key, i];
        for (const k of Object.keys(rule)) {
          if (!supportedRuleKeys.has(k)) diagnostics.push(diagnostic('controller/seed-unsupported', 'error', `${k} needs the project compiler (issue #3); the controller's seed compiler refuses it rather than enforce a weaker policy`, d.locate([...at, k], { key: true })));
        }
        const peers = peersOf(rule, peerDir, policyNs, k8s, d, at) ?? [];
        const cookie = cookies.length + 1;
        const loc = d.locate(at);
        // No commit per cookie: the manifest names the revision, and an unchanged rule keeps an unchanged table.
        cookies.push({ cookie, policy: `${d.kind}/${d.namespace ? d.namespace + '/' : ''}${d.name}`, file: loc.file, line: loc.line });
        const ports: { protocol: number; port: number }[] = [];
        const portBlocks = k8s ? (Array.isArray(rule['ports']) ? [{ ports: rule['ports'] }] : []) : Array.isArray(rule['toPorts']) ? (rule['toPorts'] as unknown[]) : [];
        portBlocks.forEach((pb, j) => {
          const pr = rec(pb);
          if (!k8s && pr['rules']) diagnostics.push(diagnostic('controller/seed-unsupported', 'error', 'L7 rules need the project compiler (issue #3)', d.locate([...at, 'toPorts', j, 'rules'], { key: true })));
          for (const p0 of Array.isArray(pr['ports']) ? (pr['ports'] as unknown[]) : []) {
            const p = rec(p0);
            const port = Number(p['port'] ?? 0);
            const protocol = PROTO[String(p['protocol'] ?? 'TCP').toUpperCase()] ?? 6;
            if (!Number.isInteger(port) || port < 0 || port > 65535) {
              diagnostics.push(diagnostic('controller/seed-unsupported', 'error', `port ${String(p['port'])} is not a number in 0..65535 (named ports need issue #3's compiler)`, d.locate([...at])));
              continue;
            }
            if (p['endPort'] !== undefined) diagnostics.push(diagnostic('controller/seed-unsupported', 'error', 'endPort needs the project compiler (issue #3)', d.locate([...at])));
            ports.push({ protocol, port });
          }
        });
        if (ports.length === 0) ports.push({ protocol: 0, port: 0 });
        for (const w of selected) {
          const ep = perEndpoint.get(`${w.namespace}/${w.name}`)!;
          for (const identity of peers) for (const p of ports) ep.entries.push({ identity, direction: dir, ...p, verdict, cookie });
        }
      });
    }
  }

  if (diagnostics.some((x) => x.severity === 'error')) return { ok: false, diagnostics, compiler: SEED_COMPILER_VERSION };

  const blobs = new Map<string, Buffer>();
  const ipcacheRecords: [Buffer, Buffer][] = [];
  for (const w of workloads) for (const ip of w.ips) ipcacheRecords.push([encodeIpcacheKey(ip), encodeIpcacheValue(wid(w))]);
  const ipcache = image('ipcache', 'weir_ipcache_key', 'weir_ipcache_value', 24, 8, 512000, ipcacheRecords, blobs);
  const endpoints: EndpointEntry[] = workloads.map((w, i) => ({ endpoint: `${w.namespace}/${w.name}`, endpointId: i + 1, identity: wid(w), flags: perEndpoint.get(`${w.namespace}/${w.name}`)!.flags, ips: w.ips, node: w.node }));
  const nodes = [...new Set(workloads.map((w) => w.node))].sort().map((node) => ({
    node,
    maps: [
      ipcache,
      ...endpoints
        .filter((e) => e.node === node)
        .map((e) => {
          const entries = perEndpoint.get(e.endpoint)!.entries;
          const seen = new Map<string, [Buffer, Buffer]>();
          for (const en of entries) {
            const k = encodePolicyKey(en);
            const prev = seen.get(k.toString('hex'));
            // Deny wins over allow on the same key, as in Cilium's map state.
            if (!prev || (en.verdict === VERDICT_DENY && prev[1].readUInt8(0) !== VERDICT_DENY)) seen.set(k.toString('hex'), [k, encodePolicyValue(en)]);
          }
          return image('policy', 'weir_policy_key', 'weir_policy_value', 12, 16, 16384, [...seen.values()], blobs, { endpoint: e.endpoint, endpointId: e.endpointId });
        }),
    ],
  }));
  const identities = [...identityOf].map(([k, id]) => ({ identity: id, labels: k }));
  const manifest: BundleManifest = {
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'Bundle',
    source: { ...(source.revision ? { revision: source.revision } : {}), paths: source.paths },
    compiler: { version: SEED_COMPILER_VERSION },
    abi: { digest: abiDigest(), version: 1 },
    nodes,
    tables: [
      table('cookies', cookies, blobs),
      table('identities', identities, blobs),
      // Each node gets the rows of its own endpoints only (see nodeManifest in controller/bundle/codec.ts).
      ...nodes.map((n) => table(`endpoints@${n.node}`, endpoints.filter((e) => e.node === n.node), blobs)),
    ],
  };
  return { ok: true, diagnostics, bundle: makeBundle(manifest, blobs), compiler: SEED_COMPILER_VERSION };
}
