// `npm run bench -- datapath`: the eBPF datapath beside its peers, all measured in this run.
//  1. per-packet cost of the endpoint program (BPF_PROG_TEST_RUN, kernel-timed) at 10 / 1k / 64k policy
//     entries; peer: the same program at 10 entries (goal: 64k within 1.5x of 10).
//  2. map load throughput (fresh LPM inner map, batch updates from a bundle image) against a small C
//     program making the raw libbpf calls (bpf_map_create + bpf_map_update_batch) on the same records.
//  3. slot swap latency (map-in-map update that puts a prebuilt policy in service), p50/p99; peer: a plain
//     hash map element update.
//  4. TCP throughput through a veth pair with 10 / 1k / 10k rules: weir against iptables (linear chain)
//     and nftables (one set), each against no filtering, in private network namespaces (needs iperf3).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { BenchReport, Figure } from './report.js';
import { NetDatapath, type LoadedImage } from '../../bpf/net/loader.js';
import { BpfMap, u32 } from '../../bpf/libbpf-ts/index.js';
import { IPPROTO, SKB_CTX_SIZE, synthesizePacket } from '../../bpf/packet.js';
import { ipcacheImage, policyImage, type PolicyEntry } from '../datapath/fixtures.js';
import { kernelEnv } from '../kernel-env.js';

const root = resolve(import.meta.dirname, '../..');
const { TCP } = IPPROTO;

/** n distinct full-key entries over many identities and ports, plus the probed rule. */
function policyEntries(n: number): PolicyEntry[] {
  const out: PolicyEntry[] = [{ prefixlen: 64, identity: 300, direction: 'ingress', protocol: TCP, port: 80, verdict: 'allow', cookie: 1 }];
  for (let i = 1; i < n; i++)
    out.push({
      prefixlen: i % 7 === 0 ? 56 : 64,
      identity: 1000 + (i % 4099),
      direction: i % 2 ? 'ingress' : 'egress',
      protocol: i % 3 ? TCP : 17,
      port: (Math.floor(i / 4099) * 257 + (i % 251)) & (i % 7 === 0 ? 0xff00 : 0xffff),
      verdict: 'allow',
      cookie: i + 1,
    });
  const seen = new Set<string>();
  return out.filter((e) => {
    const k = `${e.prefixlen}/${e.identity}/${e.direction}/${e.protocol}/${e.port}`;
    return seen.has(k) ? false : (seen.add(k), true);
  });
}

function perPacketNs(dp: NetDatapath, entries: number): number {
  dp.applyImages([policyImage(7, policyEntries(entries), Math.max(16384, entries + 1024))]);
  const pkt = synthesizePacket({ saddr: '10.0.0.2', daddr: '10.0.0.10', protocol: TCP, dport: 80 });
  const ctx = Buffer.alloc(SKB_CTX_SIZE);
  const runs: number[] = [];
  for (let i = 0; i < 5; i++) {
    const r = dp.toEndpoint.testRun({ data: pkt, ctx, repeat: 200_000 });
    if (r.retval !== 0) throw new Error(`probe packet was not allowed (retval ${r.retval})`);
    runs.push(r.durationNs);
  }
  return median(runs);
}

const RAW_C = String.raw`
#include <bpf/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
/* usage: raw RECORDS KEYSIZE VALUESIZE MAXENTRIES -> prints ns for create + batch update */
int main(int argc, char **argv) {
	FILE *f = fopen(argv[1], "rb");
	unsigned ks = atoi(argv[2]), vs = atoi(argv[3]), max = atoi(argv[4]);
	fseek(f, 0, SEEK_END); long len = ftell(f); fseek(f, 0, SEEK_SET);
	unsigned char *buf = malloc(len); fread(buf, 1, len, f); fclose(f);
	unsigned n = len / (ks + vs);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	unsigned char *keys = malloc((size_t)n * ks), *vals = malloc((size_t)n * vs);
	for (unsigned i = 0; i < n; i++) { memcpy(keys + (size_t)i * ks, buf + (size_t)i * (ks + vs), ks); memcpy(vals + (size_t)i * vs, buf + (size_t)i * (ks + vs) + ks, vs); }
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_NO_PREALLOC);
	int fd = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, "raw_lpm", ks, vs, max, &o);
	if (fd < 0) { perror("bpf_map_create"); return 1; }
	__u32 count = n;
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	if (bpf_map_update_batch(fd, keys, vals, &count, &bo)) { perror("bpf_map_update_batch"); return 1; }
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%lld %u\n", (long long)(b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec), count);
	return 0;
}
`;

function loadThroughput(dp: NetDatapath, tmp: string): Figure {
  const n = 65_000;
  const img: LoadedImage = policyImage(9, policyEntries(n), 70_000);
  const entries = img.image.entries;
  const rec = join(tmp, 'records.bin');
  writeFileSync(rec, img.bytes);
  writeFileSync(join(tmp, 'raw.c'), RAW_C);
  execFileSync('cc', ['-O2', '-o', join(tmp, 'raw'), join(tmp, 'raw.c'), '-lbpf']);
  const weir: number[] = [];
  const raw: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = process.hrtime.bigint();
    const m = dp.buildInner(img);
    weir.push(Number(process.hrtime.bigint() - t0));
    m.close();
    const [ns = '0', count = '0'] = execFileSync(join(tmp, 'raw'), [rec, '12', '16', '70000'], { encoding: 'utf8' }).trim().split(' ');
    if (Number(count) !== entries) throw new Error(`raw loader wrote ${count} of ${entries}`);
    raw.push(Number(ns));
  }
  const w = entries / (median(weir) / 1e9);
  const r = entries / (median(raw) / 1e9);
  return {
    metric: `map load, ${entries} policy entries (validate + create + batch update)`,
    value: w,
    unit: 'entries/s',
    peer: { name: 'raw libbpf batch from C', value: r },
    ratio: w / r,
    goal: '>= 0.75 of raw libbpf',
    met: w / r >= 0.75,
  };
}

function swapLatency(dp: NetDatapath): Figure[] {
  const a = dp.buildInner(policyImage(11, policyEntries(1000)));
  const b = dp.buildInner(policyImage(11, policyEntries(1001)));
  const swaps: number[] = [];
  for (let i = 0; i < 300; i++) {
    const t0 = process.hrtime.bigint();
    dp.swapPolicy(11, i % 2 ? a : b);
    swaps.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  a.close();
  b.close();
  using plain = BpfMap.create({ type: 'hash', name: 'wdp_bench_h', keySize: 4, valueSize: 4, maxEntries: 16 });
  const upd: number[] = [];
  for (let i = 0; i < 300; i++) {
    const t0 = process.hrtime.bigint();
    plain.update(1, u32(i));
    upd.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const p50 = percentile(swaps, 50);
  const p99 = percentile(swaps, 99);
  return [
    {
      metric: 'slot swap latency p50 (policy map-in-map update)',
      value: p50,
      unit: 'ms',
      peer: { name: 'plain hash element update p50', value: percentile(upd, 50) },
      ratio: p50 / percentile(upd, 50),
    },
    {
      metric: 'slot swap latency p99',
      value: p99,
      unit: 'ms',
      peer: { name: 'plain hash element update p99', value: percentile(upd, 99) },
      ratio: p99 / percentile(upd, 99),
      goal: 'p99 < 20 ms',
      met: p99 < 20,
    },
  ];
}

export default async function bench(): Promise<BenchReport> {
  const name = 'datapath';
  const env = kernelEnv();
  if (!env.ok) return { name, setup: 'eBPF datapath', figures: [], skipped: env.reason ?? 'no BPF' };
  execFileSync(process.execPath, [join(root, 'bpf/build.mjs'), 'net', '--no-layout-check'], { stdio: 'ignore' });
  const figures: Figure[] = [];
  const tmp = mkdtempSync(join(tmpdir(), 'wdp-bench-'));
  try {
    using dp = NetDatapath.open({ policyMaxEntries: 70_000 });
    dp.setEndpoint(1, { endpointId: 7, identity: 200, flags: 3 });
    dp.applyImages([
      ipcacheImage([
        ['10.0.0.2/32', 300],
        ['10.0.1.0/24', 301],
      ]),
    ]);
    // As deployed (verdict cache on: a repeated flow is one per-CPU hash hit), then with the cache off
    // (both LPM lookups on every packet: the cost of a flow's first packet).
    for (const cache of [true, false]) {
      dp.setVerdictCache(cache);
      const label = cache ? '' : ', verdict cache off (both LPM lookups)';
      const small = perPacketNs(dp, 10);
      for (const n of [1000, 64_000]) {
        const v = perPacketNs(dp, n);
        const goal = cache && n === 64_000;
        figures.push({
          metric: `per-packet cost, ${n.toLocaleString('en-US')} policy entries${label}`,
          value: v,
          unit: 'ns/packet',
          peer: { name: `same program, 10 entries${label}`, value: small },
          ratio: v / small,
          ...(goal ? { goal: '<= 1.5x of 10 entries', met: v / small <= 1.5 } : {}),
        });
      }
    }
    dp.setVerdictCache(true);
    figures.push(loadThroughput(dp, tmp));
    figures.push(...swapLatency(dp));
    figures.push(...(await vethThroughput()));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return {
    name,
    setup: `endpoint tc program on kernel ${execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim()}, ${execFileSync('nproc', { encoding: 'utf8' }).trim()} CPUs shared with other work; BPF_PROG_TEST_RUN x200k (median of 5); 65k-entry LPM load (median of 5); 300 swaps`,
    figures,
  };
}

function median(xs: number[]): number {
  return percentile(xs, 50);
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

// ---- 4. veth throughput -------------------------------------------------------------------------

async function vethThroughput(): Promise<Figure[]> {
  try {
    execFileSync('iperf3', ['--version'], { stdio: 'ignore' });
  } catch {
    return [{ metric: 'veth throughput: skipped (iperf3 not installed; apt-get install iperf3)', value: 0, unit: 'Gbit/s' }];
  }
  const { vethBench } = await import('./datapath-veth.js');
  return vethBench();
}
