// Lint throughput: 10,000 generated documents (Cilium, clusterwide, NetworkPolicy, TracingPolicy;
// one in ten with a mistake) parsed with positions, schema-validated and run through every rule.
// Peer, same run and same documents: plain `yaml` parse + ajv validation against the same schemas,
// without positions, rules or diagnostics mapping. Each side runs in its own child process so
// peak RSS is its own.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv from 'ajv';
import { parseAllDocuments } from 'yaml';
import { lintDocuments } from '../../compiler/lint/index.js';
import { kindInfo } from '../../compiler/load/kinds.js';
import { loadSources } from '../../compiler/load/index.js';
import type { BenchReport } from './report.js';

const DOCS = 10_000;
const PER_FILE = 100;

function cnp(i: number): string {
  const bad = i % 10 === 0;
  return `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: app-${i}
  namespace: ns-${i % 50}
spec:
  description: generated policy ${i}
  endpointSelector:
    matchLabels:
      app: app-${i}
  ingress:
  - fromEndpoints:
    - matchLabels:
        app: client-${i}
    - matchExpressions:
      - key: tier
        operator: ${bad ? 'in' : 'In'}
        values: [front, edge]
    toPorts:
    - ports:
      - port: "${8000 + (i % 1000)}"
        protocol: TCP
      rules:
        http:
        - method: GET
          path: /api/v1/items/.*
        - method: POST
          path: /api/v1/orders
  egress:
  - toEndpoints:
    - matchLabels:
        "k8s:io.kubernetes.pod.namespace": kube-system
        "k8s:k8s-app": kube-dns
    toPorts:
    - ports:
      - port: "53"
        protocol: ANY
      rules:
        dns:
        - matchPattern: "*.example.com"
  - toFQDNs:
    - matchName: api-${i}.example.com
    toPorts:
    - ports:
      - port: "443"
        protocol: TCP
  - toCIDRSet:
    - cidr: 10.${i % 256}.0.0/16
      except: [${bad ? '192.168.0.0/24' : `10.${i % 256}.1.0/24`}]
`;
}

function ccnp(i: number): string {
  return `apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata:
  name: host-${i}
spec:
  nodeSelector:
    matchLabels:
      role: worker
  ingress:
  - fromEntities: [cluster, remote-node]
  - fromEntities: [world]
    toPorts:
    - ports:
      - port: "443"
        protocol: TCP
`;
}

function np(i: number): string {
  return `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: np-${i}
  namespace: ns-${i % 50}
spec:
  podSelector:
    matchLabels: {app: db-${i}}
  policyTypes: [Ingress, Egress]
  ingress:
  - from:
    - podSelector: {matchLabels: {app: api}}
    - namespaceSelector: {matchLabels: {team: data}}
    ports:
    - {protocol: TCP, port: 5432}
  egress:
  - to:
    - ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}
`;
}

function tp(i: number): string {
  return `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: tp-${i}
spec:
  kprobes:
  - call: sys_openat
    syscall: true
    args:
    - {index: 0, type: int}
    - {index: 1, type: string}
    - {index: 2, type: int}
    selectors:
    - matchArgs:
      - {index: 1, operator: Prefix, values: [/etc/shadow, /etc/sudoers]}
      matchBinaries:
      - {operator: NotIn, values: [/usr/sbin/sshd]}
      matchActions:
      - {action: ${i % 10 === 0 ? 'Kill' : 'Sigkill'}}
`;
}

/** The corpus: 100 files of 100 documents, 70% CNP, 10% CCNP, 10% NetworkPolicy, 10% TracingPolicy. */
export function generate(n = DOCS): { file: string; text: string }[] {
  const files: { file: string; text: string }[] = [];
  for (let f = 0; f < n / PER_FILE; f++) {
    const docs: string[] = [];
    for (let k = 0; k < PER_FILE; k++) {
      const i = f * PER_FILE + k;
      const m = i % 10;
      docs.push(m < 7 ? cnp(i) : m === 7 ? ccnp(i) : m === 8 ? np(i) : tp(i));
    }
    files.push({ file: `gen/${String(f).padStart(3, '0')}.yaml`, text: docs.join('---\n') });
  }
  return files;
}

interface ChildResult {
  /** Documents per CPU-second (user + system) of the best round. */
  docsPerSec: number;
  /** Documents per wall-clock second of the best round (depends on machine load). */
  docsPerWallSec: number;
  maxRssMB: number;
  documents: number;
  findings: number;
}

function measureWeir(files: { file: string; text: string }[]): ChildResult {
  const bytes = files.map((f) => ({ file: f.file, bytes: Buffer.from(f.text) }));
  let best = Infinity;
  let bestWall = Infinity;
  let documents = 0;
  let findings = 0;
  for (let round = 0; round < 3; round++) {
    const c = process.cpuUsage();
    const t = performance.now();
    const loaded = loadSources(bytes);
    const diags = lintDocuments(loaded.documents, { prior: loaded.diagnostics });
    bestWall = Math.min(bestWall, performance.now() - t);
    const u = process.cpuUsage(c);
    best = Math.min(best, (u.user + u.system) / 1000);
    documents = loaded.documents.length;
    findings = diags.length + loaded.diagnostics.length;
  }
  return {
    docsPerSec: documents / (best / 1000),
    docsPerWallSec: documents / (bestWall / 1000),
    maxRssMB: process.resourceUsage().maxRSS / 1024,
    documents,
    findings,
  };
}

function measurePeer(files: { file: string; text: string }[]): ChildResult {
  const here = fileURLToPath(new URL('../../schemas/', import.meta.url));
  const ajv = new Ajv.default({ allErrors: true, strict: false });
  for (const f of readdirSync(here).filter((x) => x.endsWith('.schema.json')))
    ajv.addSchema(JSON.parse(readFileSync(join(here, f), 'utf8')) as object);
  let best = Infinity;
  let bestWall = Infinity;
  let documents = 0;
  let findings = 0;
  for (let round = 0; round < 3; round++) {
    const c = process.cpuUsage();
    const t = performance.now();
    documents = 0;
    findings = 0;
    for (const f of files) {
      for (const d of parseAllDocuments(f.text)) {
        const v = d.toJS() as { kind?: string };
        const schema = kindInfo(String(v.kind))?.schema;
        const validate = schema ? ajv.getSchema(`https://weir.dev/schemas/${schema}.schema.json`) : undefined;
        if (validate && !validate(v)) findings += validate.errors?.length ?? 0;
        documents++;
      }
    }
    bestWall = Math.min(bestWall, performance.now() - t);
    const u = process.cpuUsage(c);
    best = Math.min(best, (u.user + u.system) / 1000);
  }
  return {
    docsPerSec: documents / (best / 1000),
    docsPerWallSec: documents / (bestWall / 1000),
    maxRssMB: process.resourceUsage().maxRSS / 1024,
    documents,
    findings,
  };
}

const self = fileURLToPath(import.meta.url);

if (process.env['WEIR_LINT_BENCH_CHILD']) {
  const files = generate();
  const r = process.env['WEIR_LINT_BENCH_CHILD'] === 'peer' ? measurePeer(files) : measureWeir(files);
  process.stdout.write(`${JSON.stringify(r)}\n`);
}

function child(which: 'weir' | 'peer'): ChildResult {
  const out = execFileSync(process.execPath, ['--import', 'tsx', self], {
    env: { ...process.env, WEIR_LINT_BENCH_CHILD: which },
    maxBuffer: 1 << 20,
  }).toString();
  return JSON.parse(out.trim().split('\n').at(-1)!) as ChildResult;
}

export default async function bench(): Promise<BenchReport> {
  const weir = child('weir');
  const peer = child('peer');
  return {
    name: 'lint',
    setup: `${weir.documents} generated documents in ${DOCS / PER_FILE} files (70% CiliumNetworkPolicy, 10% clusterwide, 10% NetworkPolicy, 10% TracingPolicy; 1 in 10 with a mistake, ${weir.findings} findings): weir loadSources (YAML with positions) + lintDocuments (schemas and every rule), best of 3, own process; throughput per CPU-second (user+system) because the build machine is shared and wall-clock follows its load (wall-clock figures beside). Peer: plain yaml parse + ajv validate against the same schemas (no positions, no rules), own process.`,
    figures: [
      {
        metric: 'lint throughput',
        value: Math.round(weir.docsPerSec),
        unit: 'docs/s',
        peer: { name: 'yaml parse + ajv validate', value: Math.round(peer.docsPerSec) },
        ratio: weir.docsPerSec / peer.docsPerSec,
        goal: '>= 5000 docs/s',
        met: weir.docsPerSec >= 5000,
      },
      {
        metric: 'lint throughput (wall clock, shared machine)',
        value: Math.round(weir.docsPerWallSec),
        unit: 'docs/s',
        peer: { name: 'yaml parse + ajv validate', value: Math.round(peer.docsPerWallSec) },
        ratio: weir.docsPerWallSec / peer.docsPerWallSec,
      },
      {
        metric: 'peak RSS',
        value: Math.round(weir.maxRssMB),
        unit: 'MB',
        peer: { name: 'yaml parse + ajv validate', value: Math.round(peer.maxRssMB) },
        ratio: weir.maxRssMB / peer.maxRssMB,
      },
    ],
  };
}
