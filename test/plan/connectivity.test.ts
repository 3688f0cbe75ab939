import { describe, expect, it } from 'vitest';
import { addPorts, allConnections, formatConnections, parseConnections, type ConnectionSet } from '../../compiler/plan/connset.js';
import {
  bigToIp,
  cidrRange,
  externalRange,
  externalRanges,
  peerName,
  type IpRangePeer,
  type Peer,
  type WorkloadPeer,
} from '../../compiler/plan/peers.js';
import { portClasses, type Decision, type Probe } from '../../compiler/plan/probe.js';
import { computeConnectivity, connectivityLines, renderConnectivity } from '../../compiler/plan/connectivity.js';
import { categorize, diffConnectivity, diffDecisions, renderConnectivityDiff } from '../../compiler/plan/diff.js';

const wl = (ns: string, name: string): WorkloadPeer => ({
  type: 'workload',
  namespace: ns,
  name,
  kind: 'Deployment',
  pod: `${ns}/${name}-0`,
  labels: { app: name },
});

describe('connection sets print like np-guard', () => {
  it.each<[ConnectionSet, string]>([
    [{}, 'No Connections'],
    [allConnections(), 'All Connections'],
    [{ TCP: [{ lo: 8080, hi: 8080 }] }, 'TCP 8080'],
    [
      {
        TCP: [
          { lo: 80, hi: 80 },
          { lo: 9000, hi: 9100 },
        ],
        UDP: [{ lo: 53, hi: 53 }],
      },
      'TCP 80,9000-9100,UDP 53',
    ],
    [{ TCP: [{ lo: 1, hi: 65535 }] }, 'TCP 1-65535'],
  ])('%j → %s', (set, text) => {
    expect(formatConnections(set)).toBe(text);
    expect(formatConnections(parseConnections(text))).toBe(text);
  });
  it('merges adjacent and overlapping ranges', () => {
    const s: ConnectionSet = {};
    addPorts(s, 'TCP', 80, 80);
    addPorts(s, 'TCP', 81, 90);
    addPorts(s, 'TCP', 85, 100);
    addPorts(s, 'TCP', 443, 443);
    expect(formatConnections(s)).toBe('TCP 80-100,443');
  });
  it('rejects text that is not a connection set', () => {
    expect(() => parseConnections('53')).toThrow(/port without protocol/);
    expect(() => parseConnections('HTTP 80')).toThrow(/not a connection set/);
  });
});

describe('probe classes', () => {
  it('cuts the port space at every policy boundary', () => {
    expect(
      portClasses([
        { lo: 80, hi: 80 },
        { lo: 8000, hi: 8999 },
      ]),
    ).toEqual([
      { lo: 1, hi: 79 },
      { lo: 80, hi: 80 },
      { lo: 81, hi: 7999 },
      { lo: 8000, hi: 8999 },
      { lo: 9000, hi: 65535 },
    ]);
    expect(portClasses([])).toEqual([{ lo: 1, hi: 65535 }]);
    expect(
      portClasses([
        { lo: 65535, hi: 65535 },
        { lo: 1, hi: 1 },
      ]),
    ).toEqual([
      { lo: 1, hi: 1 },
      { lo: 2, hi: 65534 },
      { lo: 65535, hi: 65535 },
    ]);
  });
  it('cuts the address space at every CIDR and its except', () => {
    const r = externalRanges(['10.0.0.0/8', '10.1.0.0/16']);
    expect(r.map((x) => `${bigToIp(x.family, x.start)}-${bigToIp(x.family, x.end)}`)).toEqual([
      '0.0.0.0-9.255.255.255',
      '10.0.0.0-10.0.255.255',
      '10.1.0.0-10.1.255.255',
      '10.2.0.0-10.255.255.255',
      '11.0.0.0-255.255.255.255',
    ]);
    expect(cidrRange('192.168.1.7/24')).toEqual({ family: 4, start: 3232235776n, end: 3232236031n });
    expect(cidrRange('fd00::/8')).toEqual({ family: 6, start: 0xfdn << 120n, end: (0xfen << 120n) - 1n });
    // The compiler's parser: what it refuses as a CIDR splits no range here either.
    for (const bad of ['10.0.0.0/8.0', '10.0.0.0/ 8', '10.0.0.0/8/9', '1.2.3.4::/64', '10.0.0.0/33'])
      expect(cidrRange(bad), bad).toBeUndefined();
    expect(cidrRange('10.1.2.3')).toEqual({ family: 4, start: 167838211n, end: 167838211n });
    expect(externalRange('10.0.0.0-10.255.255.255[External]')).toEqual({ family: 4, start: 167772160n, end: 184549375n });
    expect(externalRange('fd00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff[External]')).toEqual(cidrRange('fd00::/8'));
    expect(externalRange('10.0.0.0-fd00::[External]')).toBeUndefined();
    expect(externalRange('default/web[Deployment]')).toBeUndefined();
    expect(externalRanges([], ['0.0.0.0/0'])).toEqual([]);
  });
  it('lists the IPv6 space, cut at its CIDRs, when a policy names an IPv6 CIDR', () => {
    const r = externalRanges(['10.0.0.0/8', '2001:db8::/32'], ['10.0.0.1', 'fd00::1']);
    expect(r.map((x) => `${bigToIp(x.family, x.start)}-${bigToIp(x.family, x.end)}`)).toEqual([
      '0.0.0.0-9.255.255.255',
      '10.0.0.0-10.255.255.255',
      '11.0.0.0-255.255.255.255',
      '::-2001:db7:ffff:ffff:ffff:ffff:ffff:ffff',
      '2001:db8::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff',
      '2001:db9::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
    ]);
    expect(peerName(r[4]!)).toBe('2001:db8::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff[External]');
    expect(externalRange(peerName(r[4]!))).toEqual(cidrRange('2001:db8::/32'));
  });
});

// A tiny hand-written oracle: frontend → backend TCP 8080 only; backend denies all ingress
// otherwise; world may reach frontend on TCP 80; everything else is allowed.
function oracle(rules: { backendPorts: number[]; l7?: string; audit?: boolean }) {
  return (p: Probe): Decision => {
    const rule = { policy: 'backend', namespace: 'default', file: 'backend.yaml', line: 7 };
    if (p.dst.type === 'workload' && p.dst.name === 'backend') {
      const ok = p.src.type === 'workload' && p.src.name === 'frontend' && p.protocol === 'TCP' && rules.backendPorts.includes(p.port);
      return ok
        ? { verdict: 'allow', audit: false, rule, ...(rules.l7 ? { l7: rules.l7 } : {}) }
        : { verdict: 'deny', audit: rules.audit ?? false, rule };
    }
    return { verdict: 'allow', audit: false };
  };
}

describe('connectivity from an oracle', () => {
  const peers: Peer[] = [wl('default', 'frontend'), wl('default', 'backend'), ...externalRanges(['203.0.113.0/24'])];
  const classes = portClasses([
    { lo: 8080, hi: 8080 },
    { lo: 9090, hi: 9090 },
  ]);
  it('lists allowed pairs in np-guard list format, merging equal external ranges', () => {
    const m = computeConnectivity(oracle({ backendPorts: [8080] }), peers, classes);
    const txt = renderConnectivity(connectivityLines(m), 'txt');
    expect(txt).toBe(
      [
        '0.0.0.0-255.255.255.255[External] => default/frontend[Deployment] : All Connections',
        'default/backend[Deployment] => 0.0.0.0-255.255.255.255[External] : All Connections',
        'default/backend[Deployment] => default/frontend[Deployment] : All Connections',
        'default/frontend[Deployment] => 0.0.0.0-255.255.255.255[External] : All Connections',
        'default/frontend[Deployment] => default/backend[Deployment] : TCP 8080',
        '',
      ].join('\n'),
    );
    const lines = connectivityLines(m);
    expect(renderConnectivity(lines, 'csv').split('\n')[0]).toBe('src,dst,conn');
    expect(renderConnectivity(lines, 'md')).toContain('| default/frontend[Deployment] | default/backend[Deployment] | TCP 8080 |');
    expect(JSON.parse(renderConnectivity(lines, 'json'))).toContainEqual({
      src: 'default/frontend[Deployment]',
      dst: 'default/backend[Deployment]',
      conn: 'TCP 8080',
    });
    const dot = renderConnectivity(lines, 'dot');
    expect(dot).toContain('subgraph "cluster_default" {');
    expect(dot).toContain(
      '"default/frontend[Deployment]" -> "default/backend[Deployment]" [label="TCP 8080" color="gold2" fontcolor="darkgreen"]',
    );
  });

  it('diffs two revisions by decision and by np-guard category', () => {
    const base = computeConnectivity(oracle({ backendPorts: [8080] }), peers, classes);
    const head = computeConnectivity(oracle({ backendPorts: [8080, 9090] }), peers, classes);
    const changes = diffDecisions(base, head);
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({
      category: 'newly-allowed',
      src: 'default/frontend[Deployment]',
      dst: 'default/backend[Deployment]',
      protocol: 'TCP',
      ports: '9090',
    });
    const rows = diffConnectivity(base, head);
    expect(renderConnectivityDiff(rows, 'txt', ['main', 'HEAD'])).toBe(
      'Connectivity diff:\ndiff-type: changed, source: default/frontend[Deployment], destination: default/backend[Deployment], main: TCP 8080, HEAD: TCP 8080,9090\n',
    );
    expect(renderConnectivityDiff(rows, 'csv')).toBe(
      'diff-type,source,destination,ref1,ref2,workloads-diff-info\nchanged,default/frontend[Deployment],default/backend[Deployment],TCP 8080,"TCP 8080,9090",\n',
    );
  });

  it('reports added and removed workloads in workloads-diff-info', () => {
    const base = computeConnectivity(oracle({ backendPorts: [8080] }), peers.slice(0, 2), classes);
    const head = computeConnectivity(oracle({ backendPorts: [8080] }), [...peers.slice(0, 2), wl('shop', 'cart')], classes);
    const rows = diffConnectivity(base, head);
    expect(rows.map((r) => `${r.diffType} ${r.source} ${r.destination} ${r.workloadsDiffInfo}`)).toEqual([
      'added default/backend[Deployment] shop/cart[Deployment] workload shop/cart[Deployment] added',
      'added default/frontend[Deployment] shop/cart[Deployment] workload shop/cart[Deployment] added',
      'added shop/cart[Deployment] default/frontend[Deployment] workload shop/cart[Deployment] added',
    ]);
    // A new workload is not a policy decision change.
    expect(diffDecisions(base, head)).toEqual([]);
  });

  it('categorizes decision changes', () => {
    const allow: Decision = { verdict: 'allow', audit: false };
    const deny: Decision = { verdict: 'deny', audit: false };
    const audited: Decision = { verdict: 'deny', audit: true };
    expect(categorize(allow, deny)).toBe('newly-denied');
    expect(categorize(audited, deny)).toBe('newly-denied');
    expect(categorize(deny, allow)).toBe('newly-allowed');
    expect(categorize(allow, { ...allow, l7: 'GET /' })).toBe('changed-l7');
    expect(categorize(allow, audited)).toBe('changed-audit');
    expect(categorize(deny, deny)).toBeUndefined();
    expect(peerName({ type: 'fqdn', fqdn: 'api.example.com', ip: '198.51.100.1' })).toBe('api.example.com[FQDN]');
  });
});

import { ownerOf, workloadsOf } from '../../compiler/plan/workloads.js';

describe('pods grouped into workloads as np-guard names them', () => {
  it.each<[string, { kind: string; name: string } | undefined, string, string]>([
    ['frontend[Deployment]', undefined, 'frontend', 'Deployment'],
    ['frontend-7d9f8c6b5d-x2k9p', { kind: 'ReplicaSet', name: 'frontend-7d9f8c6b5d' }, 'frontend-7d9f8c6b5d', 'ReplicaSet'],
    ['frontend-7d9f8c6b5d-x2k9p', { kind: 'Deployment', name: 'frontend' }, 'frontend', 'Deployment'],
    ['db-0', { kind: 'StatefulSet', name: 'db' }, 'db', 'StatefulSet'],
    [
      'ingress-nginx-admission-create-hp47w',
      { kind: 'Job', name: 'ingress-nginx-admission-create' },
      'ingress-nginx-admission-create',
      'Job',
    ],
    // The shape of a name says nothing: without an owner a pod is its own workload.
    ['fluentd-4hx2q', undefined, 'fluentd-4hx2q', 'Pod'],
    ['db-0', undefined, 'db-0', 'Pod'],
    ['tiefighter', undefined, 'tiefighter', 'Pod'],
  ])('%s owned by %j → %s[%s]', (pod, owner, name, kind) =>
    expect(ownerOf({ name: pod, ...(owner ? { owner } : {}) })).toEqual({ name, kind }),
  );

  it('folds replicas with equal labels into one workload and keeps their addresses', () => {
    const pod = (name: string, ip: string, owner: { kind: string; name: string }, labels = { app: 'web' }) => ({
      namespace: 'shop',
      name,
      labels,
      ips: [ip],
      node: 'n1',
      ports: [],
      owner,
    });
    const ws = workloadsOf([
      pod('web-5d8f7c9b6a-aaaaa', '10.0.0.1', { kind: 'Deployment', name: 'web' }),
      pod('web-5d8f7c9b6a-bbbbb', '10.0.0.2', { kind: 'Deployment', name: 'web' }),
      pod('db-0', '10.0.0.3', { kind: 'StatefulSet', name: 'db' }, { app: 'db' }),
    ]);
    expect(ws.map((w) => `${w.namespace}/${w.name}[${w.kind}] ${w.pod} ${w.ips!.join(',')}`)).toEqual([
      'shop/db[StatefulSet] shop/db-0 10.0.0.3',
      'shop/web[Deployment] shop/web-5d8f7c9b6a-aaaaa 10.0.0.1,10.0.0.2',
    ]);
  });

  it('variants of one owner keep their own names and remember the workload; host-network pods are marked', () => {
    const ws = workloadsOf(
      [
        {
          namespace: 'a',
          name: 'p1',
          labels: { app: 'x', tier: '1' },
          ips: [],
          node: 'n1',
          ports: [],
          owner: { kind: 'DaemonSet', name: 'agent' },
        },
        {
          namespace: 'a',
          name: 'p2',
          labels: { app: 'x', tier: '2' },
          ips: [],
          node: 'n1',
          ports: [],
          owner: { kind: 'DaemonSet', name: 'agent' },
        },
      ],
      [{ namespace: 'kube-system', name: 'etcd-n1', labels: {}, ips: ['192.168.0.1'], node: 'n1', ports: [] }],
    );
    expect(ws.map((w) => [w.name, w.kind, w.variantOf, w.hostNetwork])).toEqual([
      ['p1', 'DaemonSet', 'agent', undefined],
      ['p2', 'DaemonSet', 'agent', undefined],
      ['etcd-n1', 'Pod', undefined, true],
    ]);
  });
});

import { affectedWorkloads, changedDocuments, selects } from '../../compiler/plan/affected.js';
import type { PolicyDocument } from '../../compiler/load/index.js';

describe('affected workloads without the compiler (selector reading)', () => {
  const web = wl('shop', 'web');
  const db = { ...wl('shop', 'db'), labels: { app: 'db', tier: 'data' } };
  const other = wl('billing', 'db');
  it.each<[unknown, boolean | undefined]>([
    [{ matchLabels: { app: 'db' } }, true],
    [{ matchLabels: { 'k8s:app': 'db' } }, true],
    [{ matchExpressions: [{ key: 'tier', operator: 'In', values: ['data', 'cache'] }] }, true],
    [{ matchExpressions: [{ key: 'tier', operator: 'DoesNotExist' }] }, false],
    [{ matchLabels: { 'k8s:io.kubernetes.pod.namespace': 'shop' } }, true],
    [{ matchExpressions: [{ key: 'tier', operator: 'Gt', values: ['1'] }] }, undefined],
    [{ matchLabels: { 'io.cilium.k8s.namespace.labels.team': 'shop' } }, undefined],
    [{ matchLabels: { 'k8s:io.cilium.k8s.policy.serviceaccount': 'db' } }, undefined],
    [{ matchExpressions: 'tier' }, undefined],
    [{ matchLabels: { constructor: 'x' } }, false],
    [{}, true],
  ])('%j selects shop/db: %s', (sel, want) => expect(selects(sel, db)).toBe(want));

  it('finds the endpoints selected by changed documents, namespace-scoped, on either side', () => {
    const doc = (name: string, ns: string | undefined, kind: string, spec: object) =>
      ({ kind, family: 'network', name, ...(ns ? { namespace: ns } : {}), value: { spec } }) as unknown as PolicyDocument;
    const a = doc('a', 'shop', 'CiliumNetworkPolicy', { endpointSelector: { matchLabels: { app: 'db' } }, ingress: [{}] });
    const a2 = doc('a', 'shop', 'CiliumNetworkPolicy', { endpointSelector: { matchLabels: { app: 'web' } }, ingress: [{}] });
    const same = doc('b', 'shop', 'NetworkPolicy', { podSelector: {} });
    const changes = changedDocuments([a, same], [a2, same]);
    expect(changes.map((c) => `${c.kind} ${c.key}`)).toEqual(['modified CiliumNetworkPolicy/shop/a']);
    expect([...(affectedWorkloads(changes, [web, db, other]) as Set<unknown>)]).toEqual([db, web]);
    const ccnp = doc('c', undefined, 'CiliumClusterwideNetworkPolicy', { endpointSelector: { matchLabels: { app: 'db' } } });
    expect([...(affectedWorkloads(changedDocuments([], [ccnp]), [web, db, other]) as Set<unknown>)]).toEqual([db, other]);
    const host = doc('h', undefined, 'CiliumClusterwideNetworkPolicy', { nodeSelector: {} });
    expect(affectedWorkloads(changedDocuments([], [host]), [web, db])).toBe('all');
  });
});

import { listLines } from '../../compiler/plan/connectivity.js';
import { compileRevision } from '../../compiler/plan/network.js';
import { loadSources } from '../../compiler/load/index.js';

describe('np-guard list: external ranges and variants as np-guard prints them', () => {
  const text = (rs: IpRangePeer[]) => rs.map((x) => `${bigToIp(x.family, x.start)}-${bigToIp(x.family, x.end)}`);
  const ranges = async (policy: string) => {
    const docs = loadSources([
      {
        file: 'p.yaml',
        bytes: new TextEncoder().encode(
          `apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: default, labels: {app: web}}\nspec: {}\nstatus: {podIP: 10.1.2.3}\n---\n${policy}`,
        ),
      },
    ]).documents;
    const r = await compileRevision(
      docs.filter((d) => d.family === 'network'),
      docs.filter((d) => d.family === 'workload'),
    );
    expect(r.diagnostics).toEqual([]);
    const x = r.listRanges!();
    return { ingress: text(x.ingress), egress: text(x.egress) };
  };
  const netpol = (rules: string) =>
    `apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: default}\nspec:\n  podSelector: {}\n${rules}`;

  it("cuts where membership in a rule's addresses changes, per direction, and only there", async () => {
    expect(await ranges(netpol('  ingress:\n  - from: [{ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8, 172.21.0.0/16]}}]\n'))).toEqual({
      ingress: [
        '0.0.0.0-9.255.255.255',
        '10.0.0.0-10.255.255.255',
        '11.0.0.0-172.20.255.255',
        '172.21.0.0-172.21.255.255',
        '172.22.0.0-255.255.255.255',
      ],
      egress: ['0.0.0.0-255.255.255.255'],
    });
    // 10.0.0.0/8 less its lower half holds 10.128.0.0/9 only: 10.0.0.0 is the edge of no rule's addresses.
    expect(await ranges(netpol('  egress:\n  - to: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.0.0.0/9]}}]\n'))).toEqual({
      ingress: ['0.0.0.0-255.255.255.255'],
      egress: ['0.0.0.0-10.127.255.255', '10.128.0.0-10.255.255.255', '11.0.0.0-255.255.255.255'],
    });
    // A CIDR group is read through the compiled rules like any CIDR.
    const cnp = `apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: c, namespace: default}\nspec:\n  endpointSelector: {}\n  egress:\n  - toCIDRSet: [{cidrGroupRef: partners}]\n---\napiVersion: cilium.io/v2alpha1\nkind: CiliumCIDRGroup\nmetadata: {name: partners}\nspec: {externalCIDRs: [203.0.113.0/24]}\n`;
    const docs = loadSources([{ file: 'c.yaml', bytes: new TextEncoder().encode(cnp) }]).documents;
    const r = await compileRevision(
      docs.filter((d) => d.family === 'network'),
      docs.filter((d) => d.family === 'workload'),
    );
    expect(text(r.listRanges!().egress)).toEqual(['0.0.0.0-203.0.112.255', '203.0.113.0-203.0.113.255', '203.0.114.0-255.255.255.255']);
  });

  it('neighbouring ranges are printed apart even when they connect alike', () => {
    const [a, b] = externalRanges(['0.0.0.0/1']);
    const w = wl('default', 'web');
    const m = computeConnectivity(() => ({ verdict: 'allow', audit: false }), [w, a!, b!], portClasses([]));
    expect(renderConnectivity(listLines(m), 'txt')).toContain(
      '0.0.0.0-127.255.255.255[External] => default/web[Deployment] : All Connections\n128.0.0.0-255.255.255.255[External] => default/web[Deployment] : All Connections\n',
    );
  });

  it('variants of one owner print as the workload when they connect alike, apart when they do not', () => {
    const v = (name: string, tier: string): WorkloadPeer => ({
      type: 'workload',
      namespace: 'default',
      name,
      variantOf: 'agents',
      kind: 'DaemonSet',
      pod: `default/${name}`,
      labels: { tier },
    });
    const p1 = v('pod-1', 'a');
    const p2 = v('pod-2', 'b');
    const db = wl('default', 'db');
    const alike = computeConnectivity(
      (p) => ({ verdict: p.dst === db && p.port !== 90 ? 'deny' : 'allow', audit: false }),
      [p1, p2, db],
      portClasses([{ lo: 90, hi: 90 }]),
    );
    expect(renderConnectivity(listLines(alike), 'txt')).toBe(
      'default/agents[DaemonSet] => default/db[Deployment] : TCP 90,UDP 90,SCTP 90\ndefault/db[Deployment] => default/agents[DaemonSet] : All Connections\n',
    );
    const apart = computeConnectivity(
      (p) => ({ verdict: p.dst === db && p.src === p2 ? 'deny' : 'allow', audit: false }),
      [p1, p2, db],
      portClasses([]),
    );
    expect(renderConnectivity(listLines(apart), 'txt')).toBe(
      [
        'default/db[Deployment] => default/pod-1[DaemonSet] : All Connections',
        'default/db[Deployment] => default/pod-2[DaemonSet] : All Connections',
        'default/pod-1[DaemonSet] => default/db[Deployment] : All Connections',
        'default/pod-1[DaemonSet] => default/pod-2[DaemonSet] : All Connections',
        'default/pod-2[DaemonSet] => default/pod-1[DaemonSet] : All Connections',
        '',
      ].join('\n'),
    );
  });
});

describe('host-network workloads are the host to Cilium', () => {
  const docs = loadSources([
    {
      file: 'c.yaml',
      bytes: new TextEncoder().encode(`apiVersion: weir.dev/v1alpha1
kind: Inventory
metadata: {name: c}
spec:
  nodes: [{name: n1, ips: [192.168.0.1]}, {name: n2, ips: [192.168.0.2]}]
  pods:
  - {namespace: app, name: db-0, owner: {kind: StatefulSet, name: db}, labels: {app: db}, ips: [10.0.0.1], node: n1}
  - {namespace: kube-system, name: probe-n1, owner: {kind: DaemonSet, name: probe}, hostNetwork: true, labels: {app: agent}, ips: [192.168.0.1], node: n1}
  - {namespace: kube-system, name: agent-n1, owner: {kind: DaemonSet, name: agent}, hostNetwork: true, labels: {app: agent}, ips: [192.168.0.1], node: n1}
  - {namespace: kube-system, name: agent-n2, owner: {kind: DaemonSet, name: agent}, hostNetwork: true, labels: {app: agent}, ips: [192.168.0.2], node: n2}
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: deny-all, namespace: app}
spec:
  endpointSelector: {matchLabels: {app: db}}
  ingress: [{}]
  egress: [{}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: agent, namespace: kube-system}
spec:
  endpointSelector: {matchLabels: {app: agent}}
  ingress: [{}]
`),
    },
  ]).documents;
  it('a policy never selects them; from their own node they reach local pods (allow-localhost), from another node they are remote-node', async () => {
    const r = await compileRevision(
      docs.filter((d) => d.family === 'network'),
      docs.filter((d) => d.kind === 'Inventory'),
    );
    expect(r.diagnostics).toEqual([]);
    const byName = new Map(r.workloads.map((w) => [peerName(w), w]));
    expect([...byName.keys()]).toEqual(['app/db[StatefulSet]', 'kube-system/agent[DaemonSet]', 'kube-system/probe[DaemonSet]']);
    const db = byName.get('app/db[StatefulSet]')!;
    const probe = byName.get('kube-system/probe[DaemonSet]')!;
    const agent = byName.get('kube-system/agent[DaemonSet]')!;
    expect([probe.hostNetwork, probe.node, agent.hostNetwork, agent.node, agent.ips]).toEqual([
      true,
      'n1',
      true,
      undefined,
      ['192.168.0.1', '192.168.0.2'],
    ]);
    const ask = (src: Peer, dst: Peer) => r.oracle!({ src, dst, protocol: 'TCP', port: 8080 });
    // On db's node only: the host reaches its own pods whatever their policy.
    expect(ask(probe, db)).toEqual({ verdict: 'allow', audit: false, reason: 'allow-localhost' });
    // Also on another node: a remote node, which db's default deny drops.
    expect(ask(agent, db)).toMatchObject({ verdict: 'deny' });
    // The agent's ingress policy selects no endpoint (its pods are the host); db's egress is default-deny.
    expect(ask(db, probe)).toMatchObject({ verdict: 'deny' });
    expect(ask(agent, probe)).toEqual({ verdict: 'allow', audit: false, reason: 'host-network' });
  });
});

describe('connectivity output escapes what the inventory names', () => {
  // Pod and workload names come from the cluster's objects: whoever can create a pod chooses them.
  const lines = [
    {
      src: 'shop/web|<img src=x onerror=alert(1)>[Pod]',
      dst: 'shop/db](https://evil.example)\u001b]0;pwned\u0007[Pod]',
      conn: 'All Connections',
    },
  ];
  it('markdown table cells cannot break the table, inject HTML or links', () => {
    const md = renderConnectivity(lines, 'md');
    const row = md.split('\n')[2]!;
    expect(row.split(/(?<!\\)\|/).length).toBe(5); // | src | dst | conn |: the cells' own bars are escaped
    expect(md).not.toContain('<img');
    expect(md).not.toContain('](https://');
    expect(md).not.toContain('\u001b');
  });
  it('text and CSV lines carry no terminal control characters', () => {
    for (const f of ['txt', 'csv'] as const) {
      const out = renderConnectivity(lines, f);
      expect(out, f).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
      expect(out, f).toContain('shop/web|<img src=x onerror=alert(1)>[Pod]');
    }
  });
});
