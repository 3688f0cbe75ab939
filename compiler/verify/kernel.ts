// Verification level 3: the real endpoint program, loaded with each endpoint's image into scratch
// (unpinned) maps, runs BPF_PROG_TEST_RUN on a packet synthesized for every equivalence class;
// the kernel's verdict must equal the emulator's. `weir verify --kernel` calls verifyKernel().
import { kernelVerifyAvailable } from '../../bpf/kernel-gate.js';
import { type LoadedImage, NetDatapath } from '../../bpf/net/loader.js';
import { readBundle, type ReadBundle } from '../bundle/io.js';
import { encodeIpcacheKey, encodeIpcacheValue } from '../../bpf/abi/net.js';
import { decide, type Decision, lpmEntries, lpmLookup, type LpmEntry } from '../../bpf/lookup.js';
import { IPPROTO, parseAddr, SKB_CTX_SIZE, SKB_MARK_OFFSET, synthesizePacket } from '../../bpf/packet.js';
import { objectPath } from '../../bpf/paths.js';

/** One equivalence class as the emulator used it, with the emulator's verdict. */
export interface KernelClass {
  /** The endpoint whose policy image decides (its policy image's endpointId). */
  endpointId: number;
  direction: 'ingress' | 'egress';
  peerIdentity: number;
  /** An address the ipcache maps to peerIdentity; derived from the ipcache image when absent. */
  peerAddr?: string;
  /** IP protocol number; for ICMP, port is the ICMP type. */
  protocol: number;
  port: number;
  expect: 'allow' | 'deny' | 'redirect';
  proxyPort?: number;
  /** How the class reads to a person (e.g. `default/xwing -> default/deathstar TCP/80`). */
  label?: string;
}

export interface VerifyKernelOptions {
  /** Only this node's images. */
  node?: string;
  /**
   * The emulator's classes and verdicts for a node. Without it, classes are derived from the images'
   * own boundaries (every identity, direction, protocol and port-block edge) and the expected verdict
   * comes from bpf/lookup.ts.
   */
  classes?: (node: string, images: LoadedImage[]) => KernelClass[];
  /** WEIR_EP_* flags per endpoint; default: a direction is enforced when the image has entries for it. */
  endpointFlags?: (endpointId: number, images: LoadedImage[]) => number;
  /** Fail (instead of skipping) when BPF is not available; default: CI=true. */
  required?: boolean;
  /** Cap on derived classes per endpoint (deterministic subsample beyond it). */
  maxClassesPerEndpoint?: number;
}

export interface KernelMismatch {
  node: string;
  class: KernelClass;
  /** cacheDisagrees: the verdict-cache hit differed from the lookup path (a datapath bug). */
  kernel: { verdict: 'allow' | 'deny' | 'redirect'; proxyPort?: number; cacheDisagrees?: boolean };
}

export interface KernelVerifyReport {
  ok: boolean;
  /** Why nothing ran (no root, no BPF), when skipped. */
  skipped?: string;
  /** unreachable: classes skipped for want of any address; synthetic: identities given a scratch ipcache address. */
  nodes: { node: string; endpoints: number; classes: number; unreachable: number; synthetic: number }[];
  classes: number;
  mismatches: KernelMismatch[];
  durationMs: number;
}

const WORLD_V4 = ['203.0.113.77', '198.51.100.77', '192.0.2.77', '100.64.77.77'];
const WORLD_V6 = ['2001:db8:77::77', '3fff:77::77'];

export async function verifyKernel(bundleDir: string, opts: VerifyKernelOptions = {}): Promise<KernelVerifyReport> {
  const t0 = process.hrtime.bigint();
  const required = opts.required ?? process.env['CI'] === 'true';
  const gate = kernelVerifyAvailable(objectPath('endpoint.bpf.o'));
  if (!gate.ok) {
    if (required) throw new Error(`weir verify --kernel: required but BPF is not available here: ${gate.reason}`);
    return { ok: true, skipped: gate.reason, nodes: [], classes: 0, mismatches: [], durationMs: 0 };
  }
  const nodes = nodeImages(await readBundle(bundleDir), opts.node, bundleDir);
  const report: KernelVerifyReport = { ok: true, nodes: [], classes: 0, mismatches: [], durationMs: 0 };
  for (const { node, images } of nodes) {
    using dp = NetDatapath.open();
    dp.setConntrack(false); // each class is a new flow; earlier test packets must not make it a "reply"
    const ipcache = images.find((i) => i.image.name === 'ipcache');
    if (ipcache) dp.applyImages([ipcache]);
    const ipc = ipcache ? lpmEntries(ipcache.bytes, ipcache.image.keySize, ipcache.image.valueSize) : [];
    const policies = images.filter((i) => i.image.name === 'policy');
    const given = opts.classes?.(node, images);
    let count = 0;
    let unreachable = 0;
    // Identities no address of the ipcache image resolves to (reserved entities, identities of other
    // clusters): give each a synthetic host address in the scratch ipcache, from the benchmarking
    // ranges (198.18.0.0/15, 2001:2::/48), so their policy entries run too.
    const synthetic = new Map<string, string>();
    const usedAddrs = new Set((given ?? []).map((c) => c.peerAddr).filter((a): a is string => a !== undefined));
    let nextSynthetic = 1;
    const syntheticFor = (identity: number, family: 4 | 6 | undefined): string | undefined => {
      const key = `${identity}/${family ?? 4}`;
      const have = synthetic.get(key);
      if (have) return have;
      const n = nextSynthetic++;
      const addr = family === 6 ? `2001:2::${n.toString(16)}` : `198.18.${(n >> 8) & 255}.${n & 255}`;
      // A /32 (/128) only shadows the image for this one address, which no other class uses.
      if (usedAddrs.has(addr)) return syntheticFor(identity, family);
      using slot = dp.maps.ipcache.openInner(0) ?? undefined;
      if (!slot) return undefined;
      const a = parseAddr(addr);
      slot.update(encodeIpcacheKey({ bits: a.family === 6 ? 128 : 32, family: a.family, addr: a.bytes }), encodeIpcacheValue({ identity, flags: 0 }));
      synthetic.set(key, addr);
      return addr;
    };
    for (const pol of policies) {
      const endpointId = pol.image.endpointId!;
      const entries = lpmEntries(pol.bytes, pol.image.keySize, pol.image.valueSize);
      const flags = opts.endpointFlags?.(endpointId, images) ?? enforcedFlags(entries);
      dp.applyImages([pol]);
      // test_run runs on loopback (ifindex 1): the endpoint under test sits there.
      dp.setEndpoint(1, { endpointId, identity: 0, flags });
      const classes = given ? given.filter((c) => c.endpointId === endpointId) : deriveClasses(endpointId, entries, ipc, flags, opts.maxClassesPerEndpoint ?? 20000);
      for (const c of classes) {
        const addr = c.peerAddr ?? addressFor(c.peerIdentity, ipc, familyFor(c.protocol)) ?? (c.peerIdentity !== 0 ? syntheticFor(c.peerIdentity, familyFor(c.protocol)) : undefined);
        if (!addr) {
          unreachable++;
          continue;
        }
        const kernel = runClass(dp, c, addr);
        count++;
        if (kernel.cacheDisagrees || kernel.verdict !== c.expect || (c.expect === 'redirect' && kernel.proxyPort !== c.proxyPort)) report.mismatches.push({ node, class: { ...c, peerAddr: addr }, kernel });
      }
      dp.maps.policy.delete(endpointId);
    }
    report.nodes.push({ node, endpoints: policies.length, classes: count, unreachable, synthetic: synthetic.size });
    report.classes += count;
  }
  report.ok = report.mismatches.length === 0;
  report.durationMs = Number(process.hrtime.bigint() - t0) / 1e6;
  return report;
}

/**
 * The images of every node of a bundle read by the compiler's readBundle (which has checked every
 * blob against its digest), or only `node`'s, as the datapath applies them.
 */
export function nodeImages(bundle: ReadBundle, node?: string, label = 'bundle'): { node: string; images: LoadedImage[] }[] {
  const all = bundle.manifest.nodes;
  const nodes = node ? all.filter((n) => n.node === node) : all;
  if (node && nodes.length === 0) throw new Error(`${label}: no node ${node} in the bundle (nodes: ${all.map((n) => n.node).join(', ')})`);
  return nodes.map((n) => ({
    node: n.node,
    images: n.maps.map((image) => {
      const b = bundle.blob(image.digest);
      return { image, bytes: Buffer.from(b.buffer, b.byteOffset, b.byteLength) };
    }),
  }));
}

function familyFor(protocol: number): 4 | 6 | undefined {
  return protocol === IPPROTO.ICMP ? 4 : protocol === IPPROTO.ICMPV6 ? 6 : undefined;
}

function runClass(dp: NetDatapath, c: KernelClass, peerAddr: string): { verdict: 'allow' | 'deny' | 'redirect'; proxyPort?: number; cacheDisagrees?: boolean } {
  const v6 = peerAddr.includes(':');
  const local = v6 ? 'fd00:ffff::1' : '10.255.255.254';
  const egress = c.direction === 'egress';
  const pkt = synthesizePacket({ saddr: egress ? local : peerAddr, daddr: egress ? peerAddr : local, protocol: c.protocol, dport: c.port, sport: 40000 });
  const prog = egress ? dp.fromEndpoint : dp.toEndpoint;
  // Twice: the first run takes the lookup path and fills the verdict cache, the second is a cache hit.
  const first = outcome(prog.testRun({ data: pkt, ctx: Buffer.alloc(SKB_CTX_SIZE) }));
  const second = outcome(prog.testRun({ data: pkt, ctx: Buffer.alloc(SKB_CTX_SIZE) }));
  if (first.verdict !== second.verdict || first.proxyPort !== second.proxyPort) return { verdict: 'deny', cacheDisagrees: true } as ReturnType<typeof runClass>;
  return first;
}

function outcome(r: { retval: number; ctxOut?: Buffer }): { verdict: 'allow' | 'deny' | 'redirect'; proxyPort?: number } {
  if (r.retval === 2) return { verdict: 'deny' };
  const mark = r.ctxOut?.readUInt32LE(SKB_MARK_OFFSET) ?? 0;
  if ((mark & 0x0f00) === 0x0200) return { verdict: 'redirect', proxyPort: mark >>> 16 };
  return { verdict: 'allow' };
}

function enforcedFlags(entries: LpmEntry[]): number {
  let flags = 0;
  for (const e of entries) flags |= e.data[4] === 1 ? 2 : 1;
  return flags;
}

/** An address whose ipcache lookup yields `identity` (world: one the ipcache does not cover). */
export function addressFor(identity: number, ipcache: LpmEntry[], family?: 4 | 6): string | undefined {
  const resolves = (addr: Buffer, fam: 4 | 6) => {
    const data = Buffer.alloc(20);
    data[0] = fam;
    addr.copy(data, 4);
    const hit = lpmLookup(ipcache, data);
    return (hit ? hit.value.readUInt32LE(0) : 2) === identity;
  };
  const fmt = (b: Buffer, fam: 4 | 6) => (fam === 4 ? [...b.subarray(0, 4)].join('.') : [0, 2, 4, 6, 8, 10, 12, 14].map((i) => b.readUInt16BE(i).toString(16)).join(':'));
  for (const e of ipcache) {
    if (e.value.readUInt32LE(0) !== identity) continue;
    const fam = e.data[0] === 6 ? 6 : 4;
    if (family && fam !== family) continue;
    const bits = e.prefixlen - 32;
    const base = Buffer.from(e.data.subarray(4, 20));
    const last = Buffer.from(base);
    for (let i = bits; i < (fam === 4 ? 32 : 128); i++) last[i >> 3]! |= 0x80 >> (i & 7);
    for (const cand of [base, last]) if (resolves(cand, fam)) return fmt(cand, fam);
  }
  if (identity === 2 || identity === 9 || identity === 10) {
    const pools: [4 | 6, string[]][] = [[4, identity === 10 ? [] : WORLD_V4], [6, identity === 9 ? [] : WORLD_V6]];
    for (const [fam, list] of pools) {
      if (family && fam !== family) continue;
      for (const a of list) {
        const b = Buffer.alloc(16);
        parseAddr(a).bytes.copy(b);
        if (resolves(b, fam)) return a;
      }
    }
  }
  return undefined;
}

/** Classes from the images' own boundaries: identities × directions × protocols × port-block edges. */
export function deriveClasses(endpointId: number, policy: LpmEntry[], ipcache: LpmEntry[], flags: number, max: number): KernelClass[] {
  const identities = new Set<number>([2]);
  for (const e of ipcache) identities.add(e.value.readUInt32LE(0));
  for (const e of policy) if (e.data.readUInt32LE(0) !== 0) identities.add(e.data.readUInt32LE(0));
  const out: KernelClass[] = [];
  for (const direction of [0, 1] as const) {
    const protos = new Set<number>([IPPROTO.TCP, IPPROTO.UDP]);
    const ports = new Map<number, Set<number>>();
    for (const e of policy) {
      if (e.data[4] !== direction || e.prefixlen < 48) continue;
      const proto = e.data[5]!;
      protos.add(proto);
      const set = ports.get(proto) ?? new Set<number>();
      ports.set(proto, set);
      const n = Math.max(0, e.prefixlen - 48);
      const start = e.data.readUInt16BE(6) & (n === 0 ? 0 : (0xffff << (16 - n)) & 0xffff);
      const end = start + (n >= 16 ? 0 : (1 << (16 - n)) - 1);
      for (const p of [start, end, start - 1, end + 1]) if (p >= 0 && p <= 0xffff) set.add(p);
    }
    for (const proto of protos) {
      const set = ports.get(proto) ?? new Set<number>();
      set.add(proto === IPPROTO.ICMP || proto === IPPROTO.ICMPV6 ? 8 : 80);
      for (const peer of identities)
        for (const port of set) {
          const d = decide(policy, flags, direction, peer, proto, port);
          out.push(toClass(endpointId, direction, peer, proto, port, d));
        }
    }
  }
  if (out.length <= max) return out;
  const step = out.length / max;
  return Array.from({ length: max }, (_, i) => out[Math.floor(i * step)]!);
}

function toClass(endpointId: number, direction: 0 | 1, peer: number, protocol: number, port: number, d: Decision): KernelClass {
  return {
    endpointId,
    direction: direction === 1 ? 'egress' : 'ingress',
    peerIdentity: peer,
    protocol,
    port,
    expect: d.verdict,
    ...(d.proxyPort !== undefined ? { proxyPort: d.proxyPort } : {}),
  };
}

/** Human-readable summary for the CLI. */
export function formatKernelReport(r: KernelVerifyReport): string {
  if (r.skipped) return `kernel verification skipped: ${r.skipped}\n`;
  const lines = r.nodes.map((n) => `  ${n.node}: ${n.endpoints} endpoint(s), ${n.classes} class(es) run${n.synthetic ? ` (${n.synthetic} identities without an address reached through synthetic scratch ipcache entries)` : ''}${n.unreachable ? `, ${n.unreachable} skipped without any address` : ''}`);
  for (const m of r.mismatches.slice(0, 20))
    lines.push(`  MISMATCH ${m.node} endpoint ${m.class.endpointId} ${m.class.direction} peer ${m.class.peerIdentity} (${m.class.peerAddr}) proto ${m.class.protocol} port ${m.class.port}${m.class.label ? ` [${m.class.label}]` : ''}: emulator ${m.class.expect}${m.class.proxyPort ? `:${m.class.proxyPort}` : ''}, kernel ${m.kernel.verdict}${m.kernel.proxyPort ? `:${m.kernel.proxyPort}` : ''}`);
  if (r.mismatches.length > 20) lines.push(`  ... and ${r.mismatches.length - 20} more`);
  return `kernel verification ${r.ok ? 'passed' : 'FAILED'}: ${r.classes} class(es) in ${r.durationMs.toFixed(0)} ms, ${r.mismatches.length} mismatch(es)\n${lines.join('\n')}\n`;
}

