// A TypeScript model of the endpoint program's decision over map images (LPM semantics as the kernel's
// trie implements them, then the winner rule of bpf/net/endpoint.bpf.c). The kernel verifier uses it to
// derive expected verdicts when no emulator verdicts are supplied, and to find peer addresses.

export interface LpmEntry {
  /** Bits after the prefixlen field that must match. */
  prefixlen: number;
  /** The key bytes after the prefixlen field. */
  data: Buffer;
  value: Buffer;
}

/** Parses sorted key‖value records whose key starts with a u32 prefixlen. */
export function lpmEntries(records: Buffer, keySize: number, valueSize: number): LpmEntry[] {
  const out: LpmEntry[] = [];
  const rec = keySize + valueSize;
  for (let o = 0; o + rec <= records.length; o += rec)
    out.push({ prefixlen: records.readUInt32LE(o), data: records.subarray(o + 4, o + keySize), value: records.subarray(o + keySize, o + rec) });
  return out;
}

function matches(e: LpmEntry, data: Buffer): boolean {
  const full = e.prefixlen >> 3;
  for (let i = 0; i < full; i++) if (e.data[i] !== data[i]) return false;
  const rest = e.prefixlen & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((e.data[full] ?? 0) & mask) === ((data[full] ?? 0) & mask);
}

/** Longest-prefix match, as BPF_MAP_TYPE_LPM_TRIE answers a lookup with the full-length key. */
export function lpmLookup(entries: LpmEntry[], data: Buffer): LpmEntry | undefined {
  let best: LpmEntry | undefined;
  for (const e of entries) if (matches(e, data) && (!best || e.prefixlen > best.prefixlen)) best = e;
  return best;
}

export interface Decision {
  verdict: 'allow' | 'deny' | 'redirect';
  proxyPort?: number;
  cookie?: number;
  reason: 'policy' | 'default-deny' | 'not-enforced' | 'audit';
}

export function policyData(identity: number, direction: 0 | 1, protocol: number, port: number): Buffer {
  const d = Buffer.alloc(8);
  d.writeUInt32LE(identity, 0);
  d[4] = direction;
  d[5] = protocol;
  d.writeUInt16BE(port, 6);
  return d;
}

/** The decision of weir_{from,to}_endpoint for a peer identity, given the endpoint's policy entries and flags. */
export function decide(policy: LpmEntry[], flags: number, direction: 0 | 1, peer: number, protocol: number, port: number): Decision {
  const a = lpmLookup(policy, policyData(peer, direction, protocol, port));
  const b = peer !== 0 ? lpmLookup(policy, policyData(0, direction, protocol, port)) : undefined;
  let win = a ?? b;
  if (a && b) {
    const ad = a.value[0] === 1, bd = b.value[0] === 1;
    const ap = a.value.readUInt32LE(8), bp = b.value.readUInt32LE(8);
    if (ad !== bd) win = ad ? a : b;
    else if (ap !== bp) win = ap > bp ? a : b;
    else win = a.prefixlen >= b.prefixlen ? a : b;
  }
  const enforced = direction === 1 ? 2 : 1;
  const audit = (flags & 4) !== 0;
  if (!win) {
    if (!(flags & enforced)) return { verdict: 'allow', reason: 'not-enforced' };
    return audit ? { verdict: 'allow', reason: 'audit' } : { verdict: 'deny', reason: 'default-deny' };
  }
  const cookie = win.value.readUInt32LE(12);
  switch (win.value[0]) {
    case 1:
      return (win.value[2]! & 1) || audit ? { verdict: 'allow', cookie, reason: 'audit' } : { verdict: 'deny', cookie, reason: 'policy' };
    case 2:
      return { verdict: 'redirect', proxyPort: win.value.readUInt16LE(4), cookie, reason: 'policy' };
    default:
      return { verdict: 'allow', cookie, reason: 'policy' };
  }
}
