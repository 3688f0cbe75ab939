// Veth throughput for the datapath bench: client pod -> node namespace (routing) -> server pod, iperf3 TCP.
// Filtering happens in the node namespace: weir's tc programs on the server's host-side veth, or an
// iptables FORWARD chain of N rules (linear), or one nftables set of N elements; each against no
// filtering in the same run. Everything lives in private namespaces with the `wdp-b` prefix.
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Figure } from './report.js';
import { NetDatapath } from '../../bpf/net/loader.js';
import { IPPROTO } from '../../bpf/packet.js';
import { ipcacheImage, policyImage, type PolicyEntry } from '../datapath/fixtures.js';
import { Topology, removeLeftovers } from '../datapath/netns.js';

const SECONDS = 1;
const RULES = [10, 1000, 10_000];

function otherAddr(i: number): string {
  return `10.200.${(i >> 8) & 255}.${i & 255}`;
}

/** Gbit/s, and Gbit per CPU-second of the sender and receiver processes (iperf3's own accounting). */
interface Run {
  gbps: number;
  perCpu: number;
}

async function iperfRun(topo: Topology): Promise<Run> {
  const server = topo.pod('server');
  const srv = spawn('ip', ['netns', 'exec', server.netns, 'iperf3', '-s', '-1', '-p', '5201'], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 300));
    const out = execFileSync(
      'ip',
      ['netns', 'exec', topo.pod('client').netns, 'iperf3', '-c', server.ip, '-p', '5201', '-t', String(SECONDS), '-J'],
      { encoding: 'utf8', timeout: (SECONDS + 20) * 1000 },
    );
    const j = JSON.parse(out) as {
      end: { sum_received: { bits_per_second: number }; cpu_utilization_percent: { host_total: number; remote_total: number } };
    };
    const gbps = j.end.sum_received.bits_per_second / 1e9;
    // Softirq work on the veth path (and so every filter's cost) is charged to these processes, which
    // makes throughput per CPU-second steadier than raw throughput on a machine others are using.
    const cpu = (j.end.cpu_utilization_percent.host_total + j.end.cpu_utilization_percent.remote_total) / 100;
    return { gbps, perCpu: cpu > 0 ? gbps / cpu : 0 };
  } finally {
    if (srv.exitCode === null && srv.pid) process.kill(srv.pid);
  }
}

export async function vethBench(): Promise<Figure[]> {
  removeLeftovers('wdp-b');
  const topo = new Topology('wdp-b');
  const tmp = mkdtempSync(join(tmpdir(), 'wdp-veth-'));
  const figures: Figure[] = [];
  try {
    await topo.create([
      { name: 'client', ports: [] },
      { name: 'server', ports: [] },
    ]);
    const client = topo.pod('client');
    const server = topo.pod('server');

    // weir: the server endpoint's ingress enforced with N entries; the client's flow is one of them.
    using dp = NetDatapath.open({ pinDir: topo.pinDir, policyMaxEntries: 20_000 });
    const ipc: [string, number][] = [
      [`${client.ip}/32`, 300],
      [`${server.ip}/32`, 301],
    ];
    for (let i = 0; i < 1000; i++) ipc.push([`${otherAddr(i)}/32`, 1000 + i]);
    dp.applyImages([ipcacheImage(ipc)]);
    const eps = [
      { ifname: client.hostIf, endpointId: 1, identity: 300, flags: 0 },
      { ifname: server.hostIf, endpointId: 2, identity: 301, flags: 1 },
    ];
    // The programs are pinned so that tc in the node namespace can attach and detach them in milliseconds.
    dp.fromEndpoint.pin(join(topo.pinDir, 'from'));
    dp.toEndpoint.pin(join(topo.pinDir, 'to'));
    for (const e of eps) {
      const ifindex = Number(/^(\d+):/.exec(topo.inNode('ip', ['-o', 'link', 'show', e.ifname]))![1]);
      dp.setEndpoint(ifindex, e);
    }
    const weirOn = () => {
      for (const e of eps) {
        topo.inNode('tc', ['qdisc', 'add', 'dev', e.ifname, 'clsact']);
        topo.inNode('tc', ['filter', 'add', 'dev', e.ifname, 'ingress', 'bpf', 'da', 'pinned', join(topo.pinDir, 'from')]);
        topo.inNode('tc', ['filter', 'add', 'dev', e.ifname, 'egress', 'bpf', 'da', 'pinned', join(topo.pinDir, 'to')]);
      }
    };
    const weirOff = () => {
      for (const e of eps) topo.inNode('tc', ['qdisc', 'del', 'dev', e.ifname, 'clsact']);
    };
    const weirSetup = (n: number) => {
      const entries: PolicyEntry[] = [
        { prefixlen: 64, identity: 300, direction: 'ingress', protocol: IPPROTO.TCP, port: 5201, verdict: 'allow', cookie: 1 },
      ];
      for (let i = 1; i < n; i++)
        entries.push({
          prefixlen: 64,
          identity: 1000 + (i % 1000),
          direction: 'ingress',
          protocol: IPPROTO.TCP,
          port: 1 + Math.floor(i / 1000),
          verdict: 'allow',
          cookie: i + 1,
        });
      dp.applyImages([policyImage(2, entries, 20_000)]);
    };
    // iptables: a linear FORWARD chain (WDP), the matching rules last; toggled by the jump to it.
    const iptSetup = (n: number) => {
      const lines = ['*filter', ':WDP - [0:0]'];
      for (let i = 1; i < n; i++)
        lines.push(`-A WDP -s ${otherAddr(i % 1000)}/32 -d ${server.ip}/32 -p tcp -m tcp --dport ${1 + Math.floor(i / 1000)} -j ACCEPT`);
      lines.push(
        `-A WDP -s ${client.ip}/32 -d ${server.ip}/32 -p tcp -m tcp --dport 5201 -j ACCEPT`,
        `-A WDP -s ${server.ip}/32 -d ${client.ip}/32 -p tcp -m tcp --sport 5201 -j ACCEPT`,
        '-A WDP -j DROP',
        'COMMIT',
        '',
      );
      writeFileSync(join(tmp, 'rules'), lines.join('\n'));
      topo.inNode('iptables-restore', [join(tmp, 'rules')]);
    };
    const iptOn = () => topo.inNode('iptables', ['-I', 'FORWARD', '-j', 'WDP']);
    const iptOff = () => topo.inNode('iptables', ['-D', 'FORWARD', '-j', 'WDP']);
    const iptTeardown = () => {
      topo.inNode('iptables', ['-F']);
      topo.inNode('iptables', ['-X', 'WDP']);
    };
    // nftables: one concatenated set of N (saddr . dport) elements; toggled by loading / deleting the table.
    const nftSetup = (n: number) => {
      const elems = [`${client.ip} . 5201`];
      for (let i = 1; i < n; i++) elems.push(`${otherAddr(i % 1000)} . ${1 + Math.floor(i / 1000)}`);
      const ruleset = `table inet wdp {\n set allowed { type ipv4_addr . inet_service; elements = { ${[...new Set(elems)].join(', ')} } }\n chain wdpfwd { type filter hook forward priority 0; policy drop;\n  ip daddr ${server.ip} ip saddr . tcp dport @allowed accept\n  ip saddr ${server.ip} tcp sport 5201 accept\n }\n}\n`;
      writeFileSync(join(tmp, 'nft'), ruleset);
    };
    const nftOn = () => topo.inNode('nft', ['-f', join(tmp, 'nft')]);
    const nftOff = () => topo.inNode('nft', ['delete', 'table', 'inet', 'wdp']);

    // Each figure is the median of PAIRS ratios (filtered run / no-filtering run right before it): on a
    // shared machine the load changes from second to second, so only neighbouring runs compare fairly.
    const PAIRS = 4;
    const measure = async (
      on: () => void,
      off: () => void,
    ): Promise<{ ratio: number; value: number; none: number; effRatio: number; eff: number; effNone: number }> => {
      const ratios: number[] = [];
      const values: number[] = [];
      const nones: number[] = [];
      const effRatios: number[] = [];
      const effs: number[] = [];
      const effNones: number[] = [];
      for (let i = 0; i < PAIRS; i++) {
        const none = await iperfRun(topo);
        on();
        let v: Run;
        try {
          v = await iperfRun(topo);
        } finally {
          off();
        }
        ratios.push(v.gbps / none.gbps);
        values.push(v.gbps);
        nones.push(none.gbps);
        effRatios.push(v.perCpu / none.perCpu);
        effs.push(v.perCpu);
        effNones.push(none.perCpu);
      }
      const mid = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      return { ratio: mid(ratios), value: mid(values), none: mid(nones), effRatio: mid(effRatios), eff: mid(effs), effNone: mid(effNones) };
    };
    for (const n of RULES) {
      const label = n.toLocaleString('en-US');
      weirSetup(n);
      const w = await measure(weirOn, weirOff);
      iptSetup(n);
      const i = await measure(iptOn, iptOff);
      iptTeardown();
      nftSetup(n);
      const f = await measure(nftOn, nftOff);
      figures.push({
        metric: `veth TCP throughput, weir, ${label} rules (median of ${PAIRS} paired runs)`,
        value: w.value,
        unit: 'Gbit/s',
        peer: { name: 'no filtering, paired runs', value: w.none },
        ratio: w.ratio,
        ...(n === 10_000 ? { goal: '>= 0.95 of no filtering', met: w.ratio >= 0.95 } : {}),
      });
      figures.push({
        metric: `veth TCP throughput, iptables linear chain, ${label} rules`,
        value: i.value,
        unit: 'Gbit/s',
        peer: { name: 'no filtering, paired runs', value: i.none },
        ratio: i.ratio,
      });
      figures.push({
        metric: `veth TCP throughput, nftables set, ${label} rules`,
        value: f.value,
        unit: 'Gbit/s',
        peer: { name: 'no filtering, paired runs', value: f.none },
        ratio: f.ratio,
      });
      for (const [who, m] of [
        ['weir', w],
        ['iptables linear chain', i],
        ['nftables set', f],
      ] as const)
        figures.push({
          metric: `veth TCP efficiency, ${who}, ${label} rules`,
          value: m.eff,
          unit: 'Gbit per CPU-second',
          peer: { name: 'no filtering, paired runs', value: m.effNone },
          ratio: m.effRatio,
        });
    }
  } finally {
    topo.destroy();
    rmSync(tmp, { recursive: true, force: true });
  }
  return figures;
}
