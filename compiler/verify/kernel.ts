// Verification level 3: the real endpoint program, loaded with each endpoint's image into scratch
// (unpinned) maps, runs BPF_PROG_TEST_RUN on a packet synthesized for every equivalence class;
// the kernel's verdict must equal the emulator's. `weir verify --kernel` calls verifyKernel().
import { kernelVerifyAvailable } from '../../bpf/kernel-gate.js';
import { type LoadedImage, NetDatapath } from '../../bpf/net/loader.js';
import { readBundle, type ReadBundle } from '../bundle/io.js';
import { formatAddress, parseAddress } from '../model/cidr.js';
import {
  encodeIpcacheValue,
  ipcacheLookupKey,
  WEIR_DIR_EGRESS,
  WEIR_DIR_INGRESS,
  WEIR_EP_EGRESS_ENFORCED,
  WEIR_EP_INGRESS_ENFORCED,
  WEIR_ID_UNKNOWN,
  WEIR_ID_WORLD,
  WEIR_ID_WORLD_IPV4,
  WEIR_ID_WORLD_IPV6,
  WEIR_MARK_MAGIC_MASK,
  WEIR_MARK_MAGIC_TO_PROXY,
  WEIR_POLICY_PREFIX_PROTO,
} from '../../bpf/abi/net.js';
import { IPPROTO, SKB_CTX_SIZE, skbMark, synthesizePacket } from '../../bpf/packet.js';
import { objectPath } from '../../bpf/paths.js';
import { DatapathEmulator, type EmulatedVerdict } from './network-emulator.js';

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
   * comes from the datapath emulator over the node's images.
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
    // The datapath model over the node's images: expected verdicts and the addresses of identities.
    const emu = DatapathEmulator.fromImages(node, images);
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
      const a = parseAddress(addr)!;
      slot.update(ipcacheLookupKey(a.family, a.addr), encodeIpcacheValue({ identity, flags: 0 }));
      synthetic.set(key, addr);
      return addr;
    };
    for (const pol of policies) {
      const endpointId = pol.image.endpointId!;
      const flags = opts.endpointFlags?.(endpointId, images) ?? enforcedFlags(emu, node, endpointId);
      dp.applyImages([pol]);
      // test_run runs on loopback (ifindex 1): the endpoint under test sits there.
      dp.setEndpoint(1, { endpointId, identity: 0, flags });
      const classes = given
        ? given.filter((c) => c.endpointId === endpointId)
        : deriveClasses(emu, node, endpointId, flags, opts.maxClassesPerEndpoint ?? 20000);
      for (const c of classes) {
        const addr =
          c.peerAddr ??
          peerAddressFor(emu, node, c.peerIdentity, familyFor(c.protocol)) ??
          (c.peerIdentity !== WEIR_ID_UNKNOWN ? syntheticFor(c.peerIdentity, familyFor(c.protocol)) : undefined);
        if (!addr) {
          unreachable++;
          continue;
        }
        const kernel = runClass(dp, c, addr);
        count++;
        if (kernel.cacheDisagrees || kernel.verdict !== c.expect || (c.expect === 'redirect' && kernel.proxyPort !== c.proxyPort))
          report.mismatches.push({ node, class: { ...c, peerAddr: addr }, kernel });
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

function runClass(
  dp: NetDatapath,
  c: KernelClass,
  peerAddr: string,
): { verdict: 'allow' | 'deny' | 'redirect'; proxyPort?: number; cacheDisagrees?: boolean } {
  const v6 = peerAddr.includes(':');
  const local = v6 ? 'fd00:ffff::1' : '10.255.255.254';
  const egress = c.direction === 'egress';
  const pkt = synthesizePacket({
    saddr: egress ? local : peerAddr,
    daddr: egress ? peerAddr : local,
    protocol: c.protocol,
    dport: c.port,
    sport: 40000,
  });
  const prog = egress ? dp.fromEndpoint : dp.toEndpoint;
  // Twice: the first run takes the lookup path and fills the verdict cache, the second is a cache hit.
  const first = outcome(prog.testRun({ data: pkt, ctx: Buffer.alloc(SKB_CTX_SIZE) }));
  const second = outcome(prog.testRun({ data: pkt, ctx: Buffer.alloc(SKB_CTX_SIZE) }));
  if (first.verdict !== second.verdict || first.proxyPort !== second.proxyPort)
    return { verdict: 'deny', cacheDisagrees: true } as ReturnType<typeof runClass>;
  return first;
}

function outcome(r: { retval: number; ctxOut?: Buffer }): { verdict: 'allow' | 'deny' | 'redirect'; proxyPort?: number } {
  if (r.retval === 2) return { verdict: 'deny' };
  const mark = skbMark(r.ctxOut);
  if ((mark & WEIR_MARK_MAGIC_MASK) === WEIR_MARK_MAGIC_TO_PROXY) return { verdict: 'redirect', proxyPort: mark >>> 16 };
  return { verdict: 'allow' };
}

/** The WEIR_EP_* enforcement flags an endpoint's policy image implies: a direction with entries is enforced. */
function enforcedFlags(emu: DatapathEmulator, node: string, endpointId: number): number {
  let flags = 0;
  for (const e of emu.entriesOf({ node, endpointId }))
    flags |= e.direction === WEIR_DIR_EGRESS ? WEIR_EP_EGRESS_ENFORCED : WEIR_EP_INGRESS_ENFORCED;
  return flags;
}

/** An address whose ipcache lookup on `node` yields `identity` (world: one the ipcache does not cover). */
export function peerAddressFor(emu: DatapathEmulator, node: string, identity: number, family?: 4 | 6): string | undefined {
  for (const e of emu.ipcacheOf(node)) {
    if (e.identity !== identity || (family && e.key.family !== family)) continue;
    // The prefix's first and last address: one of them is not shadowed by a longer prefix of another identity.
    const base = Uint8Array.from(e.key.addr);
    const last = Uint8Array.from(base);
    for (let i = e.key.bits; i < base.length * 8; i++) last[i >> 3]! |= 0x80 >> (i & 7);
    for (const cand of [base, last]) {
      const a = formatAddress(e.key.family, cand);
      if (emu.identityOf(node, a) === identity) return a;
    }
  }
  if (identity === WEIR_ID_WORLD || identity === WEIR_ID_WORLD_IPV4 || identity === WEIR_ID_WORLD_IPV6) {
    const pools: [4 | 6, string[]][] = [
      [4, identity === WEIR_ID_WORLD_IPV6 ? [] : WORLD_V4],
      [6, identity === WEIR_ID_WORLD_IPV4 ? [] : WORLD_V6],
    ];
    for (const [fam, list] of pools) {
      if (family && fam !== family) continue;
      for (const a of list) if (emu.identityOf(node, a) === identity) return a;
    }
  }
  return undefined;
}

/** Classes from the images' own boundaries: identities × directions × protocols × port-block edges. */
export function deriveClasses(emu: DatapathEmulator, node: string, endpointId: number, flags: number, max: number): KernelClass[] {
  const policy = emu.entriesOf({ node, endpointId });
  const identities = new Set<number>([WEIR_ID_WORLD]);
  for (const e of emu.ipcacheOf(node)) identities.add(e.identity);
  for (const e of policy) if (e.identity !== WEIR_ID_UNKNOWN) identities.add(e.identity);
  const out: KernelClass[] = [];
  for (const direction of [WEIR_DIR_INGRESS, WEIR_DIR_EGRESS] as const) {
    const protos = new Set<number>([IPPROTO.TCP, IPPROTO.UDP]);
    const ports = new Map<number, Set<number>>();
    for (const e of policy) {
      if (e.direction !== direction || e.prefixlen < WEIR_POLICY_PREFIX_PROTO) continue;
      protos.add(e.protocol);
      const set = ports.get(e.protocol) ?? new Set<number>();
      ports.set(e.protocol, set);
      const n = Math.max(0, e.prefixlen - WEIR_POLICY_PREFIX_PROTO);
      const start = e.port & (n === 0 ? 0 : (0xffff << (16 - n)) & 0xffff);
      const end = start + (n >= 16 ? 0 : (1 << (16 - n)) - 1);
      for (const p of [start, end, start - 1, end + 1]) if (p >= 0 && p <= 0xffff) set.add(p);
    }
    for (const proto of protos) {
      const set = ports.get(proto) ?? new Set<number>();
      set.add(proto === IPPROTO.ICMP || proto === IPPROTO.ICMPV6 ? 8 : 80);
      for (const peer of identities)
        for (const port of set)
          out.push(
            toClass(endpointId, direction, peer, proto, port, emu.decide({ node, endpointId, flags }, direction, peer, proto, port)),
          );
    }
  }
  if (out.length <= max) return out;
  const step = out.length / max;
  return Array.from({ length: max }, (_, i) => out[Math.floor(i * step)]!);
}

function toClass(endpointId: number, direction: number, peer: number, protocol: number, port: number, d: EmulatedVerdict): KernelClass {
  const redirect = d.action === 'redirect';
  return {
    endpointId,
    direction: direction === WEIR_DIR_EGRESS ? 'egress' : 'ingress',
    peerIdentity: peer,
    protocol,
    port,
    expect: redirect ? 'redirect' : d.verdict,
    ...(redirect && d.entry ? { proxyPort: d.entry.value.proxyPort } : {}),
  };
}

/** Human-readable summary for the CLI. */
export function formatKernelReport(r: KernelVerifyReport): string {
  if (r.skipped) return `kernel verification skipped: ${r.skipped}\n`;
  const lines = r.nodes.map(
    (n) =>
      `  ${n.node}: ${n.endpoints} endpoint(s), ${n.classes} class(es) run${n.synthetic ? ` (${n.synthetic} identities without an address reached through synthetic scratch ipcache entries)` : ''}${n.unreachable ? `, ${n.unreachable} skipped without any address` : ''}`,
  );
  for (const m of r.mismatches.slice(0, 20))
    lines.push(
      `  MISMATCH ${m.node} endpoint ${m.class.endpointId} ${m.class.direction} peer ${m.class.peerIdentity} (${m.class.peerAddr}) proto ${m.class.protocol} port ${m.class.port}${m.class.label ? ` [${m.class.label}]` : ''}: emulator ${m.class.expect}${m.class.proxyPort ? `:${m.class.proxyPort}` : ''}, kernel ${m.kernel.verdict}${m.kernel.proxyPort ? `:${m.kernel.proxyPort}` : ''}`,
    );
  if (r.mismatches.length > 20) lines.push(`  ... and ${r.mismatches.length - 20} more`);
  return `kernel verification ${r.ok ? 'passed' : 'FAILED'}: ${r.classes} class(es) in ${r.durationMs.toFixed(0)} ms, ${r.mismatches.length} mismatch(es)\n${lines.join('\n')}\n`;
}
