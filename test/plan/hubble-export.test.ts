// A real Hubble export (test/corpus/hubble: 400 flows of Istio's bookinfo on a Cilium 1.10 kind
// cluster, published by cilium/hubble-otel) against a two-commit policy change, with the counts
// worked out by hand from the file; and the forms exports come in (gzip, bare flows, other events,
// IPv6, `is_reply`/`reply`/unmarked replies).
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/main.js';
import type { CommandIO } from '../../cli/command.js';
import { exportText, parseHubbleFlows } from '../../compiler/observed/index.js';
import type { Plan } from '../../compiler/plan/model.js';
import { TestRepo } from './repo.js';

const exportFile = path.resolve(import.meta.dirname, '../corpus/hubble/basic-sample-400-tcp-flows.json');
const exported = readFileSync(exportFile, 'utf8');

async function run(argv: string[], cwd: string) {
  let stdout = '';
  let stderr = '';
  const io: CommandIO = { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s), cwd, env: {}, isTTY: false };
  return { code: await main(argv, io), stdout, stderr };
}

// The cluster as the export shows it: two kind nodes (the control plane observed every flow;
// 10.244.0.148 and 10.244.1.29 are the nodes' cilium_host addresses), bookinfo, Jaeger and the
// OpenTelemetry collector.
const inventory = `apiVersion: weir.dev/v1alpha1
kind: Inventory
metadata: {name: kind}
spec:
  nodes:
  - {name: kind-control-plane, ips: [172.19.0.3, 10.244.0.148]}
  - {name: kind-worker, ips: [10.244.1.29]}
  namespaces: [{name: bookinfo}, {name: jaeger}, {name: kube-system}]
  pods:
  - {namespace: bookinfo, name: productpage-v1-6b746f74dc-9rcxx, owner: {kind: Deployment, name: productpage-v1}, labels: {app: productpage, version: v1}, ips: [10.244.0.177], node: kind-control-plane}
  - {namespace: bookinfo, name: details-v1-79f774bdb9-m4j4k, owner: {kind: Deployment, name: details-v1}, labels: {app: details, version: v1}, ips: [10.244.1.193], node: kind-worker}
  - {namespace: bookinfo, name: reviews-v1-545db77b95-j2n72, owner: {kind: Deployment, name: reviews-v1}, labels: {app: reviews, version: v1}, ips: [10.244.1.109], node: kind-worker}
  - {namespace: bookinfo, name: reviews-v2-7bf8c9648f-r7bs2, owner: {kind: Deployment, name: reviews-v2}, labels: {app: reviews, version: v2}, ips: [10.244.0.110], node: kind-control-plane}
  - {namespace: bookinfo, name: reviews-v3-84779c7bbc-6x8gl, owner: {kind: Deployment, name: reviews-v3}, labels: {app: reviews, version: v3}, ips: [10.244.1.18], node: kind-worker}
  - {namespace: bookinfo, name: ratings-v1-b6994bb9-jgqxb, owner: {kind: Deployment, name: ratings-v1}, labels: {app: ratings, version: v1}, ips: [10.244.0.206], node: kind-control-plane}
  - {namespace: jaeger, name: jaeger-default-6f5845c4b7-7r5r6, owner: {kind: Deployment, name: jaeger-default}, labels: {app: jaeger, app.kubernetes.io/name: jaeger-default}, ips: [10.244.0.188], node: kind-control-plane}
  - {namespace: kube-system, name: otelcol-hubble-collector-fwc6m, owner: {kind: DaemonSet, name: otelcol-hubble-collector}, labels: {app.kubernetes.io/name: otelcol-hubble-collector}, ips: [10.244.0.8], node: kind-control-plane}
  - {namespace: kube-system, name: otelcol-hubble-collector-2t8z4, owner: {kind: DaemonSet, name: otelcol-hubble-collector}, labels: {app.kubernetes.io/name: otelcol-hubble-collector}, ips: [10.244.1.136], node: kind-worker}
`;

const netpol = (name: string, ns: string, app: string, from: string, port: number) => `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: ${name}, namespace: ${ns}}
spec:
  podSelector: {matchLabels: {app: ${app}}}
  policyTypes: [Ingress]
  ingress:
  - ${from ? `from: [{podSelector: {matchLabels: ${from}}}]\n    ` : ''}ports: [{port: ${port}, protocol: TCP}]
`;

describe('a real Hubble export against a two-commit change', () => {
  const repo = new TestRepo('weir-hubble-export-');
  beforeAll(() => {
    repo.commit({
      name: 'base',
      message: 'bookinfo lockdown',
      write: {
        'inventory.yaml': inventory,
        // productpage takes 9080 from anyone; details and reviews from productpage; ratings from reviews.
        'policies/productpage.yaml': netpol('productpage', 'bookinfo', 'productpage', '', 9080),
        'policies/details.yaml': netpol('details', 'bookinfo', 'details', '{app: productpage}', 9080),
        'policies/reviews.yaml': netpol('reviews', 'bookinfo', 'reviews', '{app: productpage}', 9080),
        'policies/ratings.yaml': netpol('ratings', 'bookinfo', 'ratings', '{app: reviews}', 9080),
        // Jaeger takes traces from the collector (in kube-system) only: the kubelet's probes on 14269 are the host's.
        'policies/jaeger.yaml': netpol(
          'jaeger',
          'jaeger',
          'jaeger',
          '{app.kubernetes.io/name: otelcol-hubble-collector}}, namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}',
          14250,
        ),
      },
    });
    // The change: ratings from reviews v2 only (reviews v3 must no longer call it).
    repo.commit({
      name: 'head',
      message: 'ratings: reviews v2 only',
      write: { 'policies/ratings.yaml': netpol('ratings', 'bookinfo', 'ratings', '{app: reviews, version: v2}', 9080) },
    });
  });
  afterAll(() => repo.dispose());

  const plan = async (flowsFile: string): Promise<{ code: number; plan: Plan; stderr: string }> => {
    const r = await run(
      ['plan', 'policies', '--base', 'base', '--head', 'head', '--inventory', 'inventory.yaml', '--flows', flowsFile, '--format', 'json'],
      repo.dir,
    );
    return { code: r.code, plan: JSON.parse(r.stdout) as Plan, stderr: r.stderr };
  };

  // By hand, from the file:
  //   400 lines, all flows (no malformed line, no other event).
  //   136 replies: 132 marked with the older `reply` field, and 4 unmarked whose 5-tuple reverses a
  //     connection seen earlier (lines 255, 261, 282, 285: ratings:9080 and jaeger:14250 answering).
  //   1 more flow is skipped: remote-node -> health:4240 has no workload on either side.
  //   263 flows are evaluated. Of them, 5 are newly dropped: reviews-v3 -> ratings:9080, seen at the
  //     ratings end as identity 18688 (reviews-v3's, learned from its pod-named flows) from
  //     10.244.1.29, kind-worker's address where reviews-v3's proxy runs (lines 254, 256, 281, ...).
  //   Nothing is denied by both: the 47 proxy connections from 10.244.0.148 carry productpage's
  //     identity (they are productpage's, not the node's), and the 5 kubelet probes of Jaeger from
  //     reserved:host on Jaeger's own node pass (allow-localhost).
  const expected = { total: 400, malformed: 0, replies: 136, skipped: 137, evaluated: 263, wouldDrop: 5, wouldAllow: 0, deniedByBoth: 0 };

  it('counts exactly the newly dropped flows, and the change is breaking', async () => {
    const r = await plan(exportFile);
    expect(r.code).toBe(1);
    expect(r.plan.flows).toMatchObject(expected);
    expect(r.plan.flows!.dropped.map((d) => `${d.src} => ${d.dst} : ${d.protocol} ${d.port}`)).toEqual(
      Array(5).fill('bookinfo/reviews-v3[Deployment] => bookinfo/ratings-v1[Deployment] : TCP 9080'),
    );
    expect(r.plan.breaking).toBe(true);
  });

  it('reads the export gzip-compressed and as bare flows alike, and counts agent, debug and lost events apart', async () => {
    repo.write('flows.json.gz', '');
    const gz = path.join(repo.dir, 'flows.json.gz');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(gz, gzipSync(exported));
    expect((await plan('flows.json.gz')).plan.flows).toMatchObject(expected);
    const bare = exported
      .trimEnd()
      .split('\n')
      .map((l) => JSON.stringify((JSON.parse(l) as { flow: unknown }).flow))
      .join('\n');
    const other = [
      '{"agent_event":{"type":"ENDPOINT_CREATED"},"node_name":"kind-control-plane"}',
      '{"lost_events":{"source":"HUBBLE_RING_BUFFER","num_events_lost":3}}',
      '{"debug_event":{"type":"DBG_CAPTURE_DELIVERY"}}',
    ];
    writeFileSync(path.join(repo.dir, 'bare.json'), `${other.join('\n')}\n${bare}\n`);
    const b = await plan('bare.json');
    expect(b.plan.flows).toMatchObject({ ...expected, total: 403, otherEvents: { agent_event: 1, lost_events: 1, debug_event: 1 } });
  });

  it('a damaged .gz or a file of no flows fails the run (exit 2), never passes as an empty export', async () => {
    const { writeFileSync } = await import('node:fs');
    writeFileSync(path.join(repo.dir, 'broken.gz'), gzipSync(exported).subarray(0, 200));
    const g = await run(
      [
        'plan',
        'policies',
        '--base',
        'base',
        '--head',
        'head',
        '--inventory',
        'inventory.yaml',
        '--flows',
        'broken.gz',
        '--fail-on',
        'breaking',
      ],
      repo.dir,
    );
    expect(g.code).toBe(2);
    expect(g.stderr).toMatch(/--flows broken\.gz: gzip data is damaged/);
    writeFileSync(path.join(repo.dir, 'notes.txt'), 'these are not flows\nnor is this\n');
    const t = await run(['plan', 'policies', '--base', 'base', '--head', 'head', '--flows', 'notes.txt'], repo.dir);
    expect(t.code).toBe(2);
    expect(t.stderr).toMatch(/none of its 2 line\(s\) is a Hubble flow \(line 1: not JSON/);
  });
});

describe('Hubble export forms', () => {
  const f = (x: Record<string, unknown>) => JSON.stringify({ flow: { verdict: 'FORWARDED', ...x } });
  const tcp = (src: string, sport: number, dst: string, dport: number) => ({
    IP: { source: src, destination: dst },
    l4: { TCP: { source_port: sport, destination_port: dport } },
  });
  it('replies: is_reply, the older reply, BoolValue objects, and the reverse of a connection seen earlier unless the flow says otherwise', () => {
    const r = parseHubbleFlows(
      [
        f({ ...tcp('10.0.0.1', 40000, '10.0.0.2', 80) }),
        f({ ...tcp('10.0.0.2', 80, '10.0.0.1', 40000) }),
        f({ ...tcp('10.0.0.2', 80, '10.0.0.1', 40000), is_reply: false }),
        f({ ...tcp('10.0.0.3', 1, '10.0.0.4', 2), is_reply: true }),
        f({ ...tcp('10.0.0.3', 1, '10.0.0.4', 2), reply: true }),
        f({ ...tcp('10.0.0.3', 1, '10.0.0.4', 2), is_reply: { value: true } }),
        f({ ...tcp('fd00::1', 50000, 'fd00::2', 443) }),
        f({ ...tcp('fd00::2', 443, 'fd00::1', 50000) }),
      ].join('\n'),
    );
    expect(r.items.map((x) => [x.isReply, x.replyBy ?? ''])).toEqual([
      [false, ''],
      [true, 'reverse'],
      [false, ''],
      [true, 'is_reply'],
      [true, 'reply'],
      [true, 'is_reply'],
      [false, ''],
      [true, 'reverse'],
    ]);
    expect(r.items[6]).toMatchObject({ protocol: 'TCP', port: 443, src: { ip: 'fd00::1' }, dst: { ip: 'fd00::2' } });
  });

  it('identity, namespace from labels, reserved identities and the observing node are kept', () => {
    const r = parseHubbleFlows(
      JSON.stringify({
        flow: {
          verdict: 'FORWARDED',
          ...tcp('10.244.0.148', 1, '10.244.1.193', 9080),
          source: { identity: 3418, labels: ['k8s:app=productpage', 'k8s:io.kubernetes.pod.namespace=bookinfo'] },
          destination: { identity: 1, labels: ['reserved:host', 'reserved:kube-apiserver'] },
        },
        node_name: 'kind/kind-control-plane',
      }),
    );
    expect(r.items[0]).toMatchObject({
      node: 'kind/kind-control-plane',
      src: { identity: 3418, namespace: 'bookinfo', labels: { app: 'productpage' } },
      dst: { reserved: ['host', 'kube-apiserver'] },
    });
  });

  it('export text: gzip or plain, damage and non-UTF-8 named', () => {
    expect(exportText(gzipSync('{"flow":{}}\n'))).toEqual({ text: '{"flow":{}}\n' });
    expect(exportText(new TextEncoder().encode('x'))).toEqual({ text: 'x' });
    expect(exportText(gzipSync('x').subarray(0, 5))).toMatchObject({
      error: expect.stringMatching(/gzip data is damaged/) as unknown as string,
    });
    expect(exportText(new Uint8Array([0xff, 0xfe, 0x00]))).toMatchObject({
      error: expect.stringMatching(/not UTF-8/) as unknown as string,
    });
  });
});

import { placeFlow, placementContext } from '../../compiler/plan/placement.js';
import type { WorkloadPeer } from '../../compiler/plan/peers.js';

describe('placing observed endpoints', () => {
  const w = (ns: string, name: string, labels: Record<string, string>, node: string, ips: string[], members: string[]): WorkloadPeer => ({
    type: 'workload',
    namespace: ns,
    name,
    kind: 'Deployment',
    pod: members[0]!,
    members,
    labels,
    node,
    ips,
  });
  const api = w('shop', 'api', { app: 'api' }, 'n1', ['10.0.0.1'], ['shop/api-1', 'shop/api-2']);
  const db = w('shop', 'db', { app: 'db' }, 'n2', ['10.0.1.1'], ['shop/db-1']);
  const nodes = [
    { name: 'n1', ips: ['192.168.0.1'] },
    { name: 'n2', ips: ['192.168.0.2'] },
  ];
  const flows = parseHubbleFlows(
    [
      // api-2 (a pod that is not the workload's representative) shows its identity 4242 by name.
      {
        source: { namespace: 'shop', pod_name: 'api-2', identity: 4242 },
        destination: { namespace: 'shop', pod_name: 'db-1' },
        IP: { source: '10.0.0.2', destination: '10.0.1.1' },
      },
      // The same identity without labels or pod name, from the node's address: api's proxy.
      { source: { identity: 4242 }, destination: { identity: 777 }, IP: { source: '192.168.0.1', destination: '10.0.1.1' } },
      // A node address with no identity is the host of the observing node, or a remote node.
      { source: {}, destination: {}, IP: { source: '192.168.0.1', destination: '10.0.0.1' } },
      { source: {}, destination: {}, IP: { source: '192.168.0.2', destination: '10.0.0.1' } },
      // reserved:host reaching a pod of another node arrives there as a remote node.
      { source: { identity: 1, labels: ['reserved:host'] }, destination: {}, IP: { source: '169.254.0.1', destination: '10.0.1.1' } },
      { source: { labels: ['reserved:world'] }, destination: {}, IP: { source: '203.0.113.9', destination: '10.0.1.1' } },
      { source: { labels: ['reserved:world'] }, destination: {}, IP: { source: '2001:db8::9', destination: '10.0.1.1' } },
    ]
      .map((x) =>
        JSON.stringify({
          flow: { verdict: 'FORWARDED', l4: { TCP: { source_port: 1, destination_port: 5432 } }, ...x },
          node_name: 'cluster/n1',
        }),
      )
      .join('\n'),
  ).items;
  const ctx = placementContext([api, db], nodes, flows);
  const name = (p: ReturnType<typeof placeFlow>['src']) =>
    p === undefined
      ? 'none'
      : p.type === 'workload'
        ? `${p.name} (${p.pod})`
        : p.type === 'entity'
          ? `${p.entity}[Entity]`
          : p.type === 'ip'
            ? 'external'
            : p.fqdn;
  it.each([
    [0, 'api (shop/api-2)', 'db (shop/db-1)'],
    [1, 'api (shop/api-1)', 'db (shop/db-1)'],
    [2, 'host[Entity]', 'api (shop/api-1)'],
    [3, 'remote-node[Entity]', 'api (shop/api-1)'],
    [4, 'remote-node[Entity]', 'db (shop/db-1)'],
    [5, 'external', 'db (shop/db-1)'],
    // An IPv6 address outside the cluster is an external peer as an IPv4 one is.
    [6, 'external', 'db (shop/db-1)'],
  ])('flow %i: %s => %s', (i, src, dst) => {
    const p = placeFlow(flows[i]!, ctx);
    expect([name(p.src), name(p.dst)]).toEqual([src, dst]);
  });
});
