// buildPlan and the renderers over hand-made revisions (an oracle per revision), so the plan's
// logic is tested apart from the network compiler; golden.test.ts covers the real pipeline.
import { describe, expect, it } from 'vitest';
import type { PolicyDocument } from '../../compiler/load/index.js';
import { parseHubbleFlows } from '../../compiler/observed/index.js';
import { buildPlan, type RevisionModel } from '../../compiler/plan/plan.js';
import type { WorkloadPeer } from '../../compiler/plan/peers.js';
import type { Decision, Probe } from '../../compiler/plan/probe.js';
import { renderText } from '../../compiler/plan/render/text.js';
import { renderMarkdown, commentMarker } from '../../compiler/plan/render/markdown.js';
import { renderHtml, reportEdges } from '../../compiler/plan/render/html.js';

const wl = (name: string, ports: number[] = []): WorkloadPeer => ({
  type: 'workload',
  namespace: 'shop',
  name,
  kind: 'Deployment',
  pod: `shop/${name}[Deployment]`,
  labels: { app: name },
  ports: ports.map((port) => ({ protocol: 'TCP', port })),
});
const workloads = [wl('web'), wl('api', [8080]), wl('db', [5432])];
const doc = (ports: number[]): PolicyDocument =>
  ({
    kind: 'CiliumNetworkPolicy',
    apiVersion: 'cilium.io/v2',
    family: 'network',
    name: 'api',
    namespace: 'shop',
    value: {
      spec: {
        endpointSelector: { matchLabels: { app: 'api' } },
        ingress: [{ toPorts: [{ ports: ports.map((p) => ({ port: String(p), protocol: 'TCP' })) }] }],
      },
    },
  }) as unknown as PolicyDocument;

function revision(ref: string, apiPorts: number[], opts: { fail?: boolean } = {}): RevisionModel {
  const rule = {
    policy: 'api',
    namespace: 'shop',
    file: 'policies/api.yaml',
    line: 9,
    commit: ref === 'main' ? 'a'.repeat(40) : 'b'.repeat(40),
  };
  const oracle = (p: Probe): Decision => {
    if (p.dst.type === 'workload' && p.dst.name === 'api')
      return p.protocol === 'TCP' && apiPorts.includes(p.port)
        ? { verdict: 'allow', audit: false, rule }
        : { verdict: 'deny', audit: false };
    return { verdict: 'allow', audit: false };
  };
  return {
    info: {
      ref,
      commit: rule.commit,
      status: opts.fail ? 'failed' : 'ok',
      policies: 1,
      files: 1,
      errors: opts.fail ? 1 : 0,
      warnings: 0,
      diagnostics: [],
    },
    documents: [doc(apiPorts)],
    workloads,
    space: {
      ports: [...workloads.flatMap((w) => (w.ports ?? []).map((p) => p.port)), ...apiPorts].map((p) => ({ lo: p, hi: p })),
      cidrs: [],
      fqdns: [],
      entities: [],
    },
    ...(opts.fail ? {} : { oracle }),
    inventoryDigest: 'x',
  };
}

const flow = (src: string, dst: string, port: number, extra: object = {}) =>
  JSON.stringify({
    verdict: 'FORWARDED',
    l4: { TCP: { destination_port: port } },
    source: { namespace: 'shop', pod_name: `${src}-5d8f-x1`, labels: [`k8s:app=${src}`] },
    destination: { namespace: 'shop', pod_name: `${dst}-0`, labels: [`k8s:app=${dst}`] },
    ...extra,
  });

describe('buildPlan', () => {
  const flows = [
    flow('web', 'api', 8080),
    flow('web', 'api', 8080),
    flow('web', 'api', 9090),
    flow('web', 'api', 8080, { is_reply: true }),
    'garbage',
    flow('web', 'db', 5432),
  ].join('\n');
  const plan = buildPlan({
    base: revision('main', [8080]),
    head: revision('HEAD', [9090]),
    flows: { file: 'flows.jsonl', parsed: parseHubbleFlows(flows) },
  });

  it('finds newly denied and newly allowed ports with the rule on each side', () => {
    expect(plan.changes.map((c) => `${c.category} ${c.src} => ${c.dst} ${c.protocol} ${c.ports}`)).toEqual([
      'newly-denied 0.0.0.0-255.255.255.255[External] => shop/api[Deployment] TCP 8080',
      'newly-denied shop/db[Deployment] => shop/api[Deployment] TCP 8080',
      'newly-denied shop/web[Deployment] => shop/api[Deployment] TCP 8080',
      'newly-allowed 0.0.0.0-255.255.255.255[External] => shop/api[Deployment] TCP 9090',
      'newly-allowed shop/db[Deployment] => shop/api[Deployment] TCP 9090',
      'newly-allowed shop/web[Deployment] => shop/api[Deployment] TCP 9090',
    ]);
    expect(plan.changes[2]!.before.rule).toMatchObject({ file: 'policies/api.yaml', line: 9 });
    expect(plan.changes[2]!.after).toEqual({ verdict: 'deny', audit: false });
  });

  it('counts observed flows that would now be dropped and marks the change as breaking', () => {
    expect(plan.flows).toMatchObject({ total: 6, malformed: 1, skipped: 1, evaluated: 4, wouldDrop: 2, wouldAllow: 1 });
    expect(plan.flows!.malformedSamples[0]).toMatchObject({ line: 5 });
    const webApi = plan.changes.find((c) => c.src === 'shop/web[Deployment]' && c.category === 'newly-denied')!;
    expect(webApi).toMatchObject({ observedFlows: 2, inUse: 'observed', breaking: true });
    // db → api 8080 is not observed, but api declares containerPort 8080: in use by the inventory.
    expect(plan.changes[1]).toMatchObject({ src: 'shop/db[Deployment]', inUse: 'inventory', breaking: true });
    expect(plan.breaking).toBe(true);
    expect(plan.summary).toMatchObject({ newlyDenied: 3, newlyAllowed: 3, breaking: 3, observedFlowsWouldDrop: 2 });
  });

  it('shows np-guard diff rows', () => {
    expect(plan.connectivityDiff).toContainEqual({
      diffType: 'changed',
      source: 'shop/web[Deployment]',
      destination: 'shop/api[Deployment]',
      ref1: 'TCP 8080',
      ref2: 'TCP 9090',
      workloadsDiffInfo: '',
    });
  });

  it('renders text with impact first and both rules', () => {
    const t = renderText(plan);
    expect(t.indexOf('BREAKING')).toBeLessThan(t.indexOf('Newly denied'));
    expect(t.indexOf('2 observed flow(s) would now be dropped')).toBeLessThan(t.indexOf('Newly denied'));
    expect(t).toContain(
      '! shop/web[Deployment] => shop/api[Deployment] : TCP 8080\n      before: allow by shop/api policies/api.yaml:9 @aaaaaaa\n      after:  deny (default deny: no rule allows it)\n      in use: 2 observed flow(s)',
    );
    expect(t).toContain('malformed line 5: not JSON');
    expect(t).toContain(
      'diff-type: changed, source: shop/web[Deployment], destination: shop/api[Deployment], main: TCP 8080, HEAD: TCP 9090',
    );
  });

  it('renders a markdown comment with the summary table first and a marker', () => {
    const m = renderMarkdown(plan);
    expect(m.startsWith(`${commentMarker}\n### weir plan:`)).toBe(true);
    expect(m.indexOf('| **Observed flows that would now be dropped** | **2** of 4 |')).toBeGreaterThan(0);
    expect(m.indexOf('| Newly denied | 3 |')).toBeLessThan(m.indexOf('<details'));
    expect(m).toContain('<details open><summary><b>Newly denied (3)</b></summary>');
  });

  it('links rule locations to the line at its commit when a link base is given', () => {
    const m = renderMarkdown(plan, { linkBase: 'https://github.com/acme/policies/blob' });
    expect(m).toContain(
      `allow by shop/api [policies/api.yaml:9](https://github.com/acme/policies/blob/${'a'.repeat(40)}/policies/api.yaml#L9) @aaaaaaa`,
    );
    expect(renderMarkdown(plan)).not.toContain('](https://');
  });

  it('keeps a huge markdown plan under the budget and says what was cut', () => {
    const many = { ...plan, changes: Array.from({ length: 3000 }, (_, i) => ({ ...plan.changes[0]!, ports: String(i + 1) })) };
    const m = renderMarkdown(many);
    expect(Buffer.byteLength(m)).toBeLessThan(60 * 1024);
    expect(m).toMatch(/… \d+ row\(s\) cut to keep this comment under 60 KB; the full plan is in the JSON output/);
    const small = renderMarkdown(many, 4000);
    expect(Buffer.byteLength(small)).toBeLessThan(4000);
  });

  it('reports a failed base revision instead of inventing changes', () => {
    const p = buildPlan({ base: revision('main', [8080], { fail: true }), head: revision('HEAD', [9090]) });
    expect(p.changes).toEqual([]);
    expect(p.notes.join('\n')).toMatch(/base revision main failed/);
    expect(renderText(p)).toMatch(/base main FAILED: 1 error/);
  });

  it('colours graph edges by status and embeds the rules for clicks, with no external resources', () => {
    const edges = reportEdges(plan.graph.before, plan.graph.after);
    expect(edges.find((e) => e.src === 'shop/web[Deployment]' && e.dst === 'shop/api[Deployment]')).toMatchObject({
      status: 'changed',
      before: 'TCP 8080',
      after: 'TCP 9090',
    });
    const h = renderHtml(plan);
    expect(h).toContain('data-status="changed"');
    expect(h).not.toMatch(/(src|href)="https?:/);
    expect(h).toContain('policies/api.yaml:9');
  });
});
