// IPv4/IPv6 addresses and prefixes as the ipcache, CIDR selectors, lint and the plan read them:
// parse, contain, compare, format. The one parser of address text: both families wherever either is.

export interface Prefix {
  family: 4 | 6;
  /** Network address bytes (4 or 16), host bits cleared. */
  addr: Uint8Array;
  bits: number;
}

function parseV4(s: string): Uint8Array | undefined {
  const n = ipv4ToInt(s);
  return n === undefined ? undefined : Uint8Array.of(n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255);
}

function parseV6(s: string): Uint8Array | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(s)) return undefined;
  const dbl = s.split('::');
  if (dbl.length > 2) return undefined;
  // An embedded IPv4 address (`::ffff:10.0.0.1`) can only end the address.
  const words = (part: string, last: boolean): number[] | undefined => {
    if (part === '') return [];
    const out: number[] = [];
    const items = part.split(':');
    for (let i = 0; i < items.length; i++) {
      const it = items[i]!;
      if (last && i === items.length - 1 && it.includes('.')) {
        const v4 = parseV4(it);
        if (!v4) return undefined;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(it)) return undefined;
        out.push(parseInt(it, 16));
      }
    }
    return out;
  };
  const head = words(dbl[0]!, dbl.length === 1);
  const tail = dbl.length === 2 ? words(dbl[1]!, true) : [];
  if (!head || !tail) return undefined;
  const fill = 8 - head.length - tail.length;
  if ((dbl.length === 1 && fill !== 0) || fill < 0 || (dbl.length === 2 && fill < 1)) return undefined;
  const all = [...head, ...new Array<number>(dbl.length === 2 ? fill : 0).fill(0), ...tail];
  const out = new Uint8Array(16);
  all.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  return out;
}

/** IPv4 text (`10.0.0.1`) to a 32-bit unsigned integer without allocating; undefined when it does not parse. */
export function ipv4ToInt(ip: string): number | undefined {
  let n = 0;
  let part = 0;
  let v = 0;
  let digits = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (++digits > 3) return undefined;
      v = v * 10 + (c - 48);
    } else if (c === 46 && digits > 0 && part < 3) {
      if (v > 255) return undefined;
      n = n * 256 + v;
      part++;
      v = 0;
      digits = 0;
    } else return undefined;
  }
  if (part !== 3 || digits === 0 || v > 255) return undefined;
  return n * 256 + v;
}

/** Parses an address (`10.0.0.1`, `fd00::1`) into bytes; undefined when it does not parse. */
export function parseAddress(s: string): { family: 4 | 6; addr: Uint8Array } | undefined {
  const v4 = parseV4(s);
  if (v4) return { family: 4, addr: v4 };
  const v6 = parseV6(s);
  if (v6) return { family: 6, addr: v6 };
  return undefined;
}

function mask(addr: Uint8Array, bits: number): Uint8Array {
  const out = Uint8Array.from(addr);
  for (let i = 0; i < out.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - 8 * i));
    out[i] = out[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  return out;
}

export interface PrefixOptions {
  /**
   * Refuse IPv4 octets written with a leading zero (`010.0.0.0/8`), as Go's net/netip does and so
   * Cilium's agent when it reads a policy's CIDRs.
   */
  strict?: boolean;
}

/** Parses `a.b.c.d/n`, `x::/n` or a bare address (a host prefix). Host bits are cleared. */
export function parsePrefix(s: string, opts?: PrefixOptions): Prefix | undefined {
  const slash = s.indexOf('/');
  const text = slash < 0 ? s : s.slice(0, slash);
  const a = parseAddress(text);
  if (!a) return undefined;
  if (opts?.strict) {
    const v4 = text.slice(text.lastIndexOf(':') + 1);
    if (v4.includes('.') && /(^|\.)0\d/.test(v4)) return undefined;
  }
  const max = a.family === 4 ? 32 : 128;
  let bits = max;
  if (slash >= 0) {
    const b = s.slice(slash + 1);
    if (!/^\d{1,3}$/.test(b)) return undefined;
    bits = Number(b);
    if (bits > max) return undefined;
  }
  return { family: a.family, addr: mask(a.addr, bits), bits };
}

export function formatPrefix(p: Prefix): string {
  return `${formatAddress(p.family, p.addr)}/${p.bits}`;
}

export function formatAddress(family: 4 | 6, a: Uint8Array): string {
  if (family === 4) return `${a[0]}.${a[1]}.${a[2]}.${a[3]}`;
  const w: string[] = [];
  for (let i = 0; i < 16; i += 2) w.push(((a[i]! << 8) | a[i + 1]!).toString(16));
  // Compress the longest run of zero words, as inet_ntop does.
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (w[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return w.join(':');
  return `${w.slice(0, best).join(':')}::${w.slice(best + bestLen).join(':')}`;
}

/** Whether `outer` contains `inner` (same family, shorter or equal prefix, same leading bits). */
export function prefixContains(outer: Prefix, inner: Prefix): boolean {
  if (outer.family !== inner.family || outer.bits > inner.bits) return false;
  const whole = outer.bits >> 3;
  for (let i = 0; i < whole; i++) if (inner.addr[i] !== outer.addr[i]) return false;
  const rest = outer.bits & 7;
  if (rest === 0) return true;
  const m = (0xff << (8 - rest)) & 0xff;
  return (inner.addr[whole]! & m) === outer.addr[whole];
}

/** Total order: family, address bytes, prefix length. */
export function comparePrefix(a: Prefix, b: Prefix): number {
  if (a.family !== b.family) return a.family - b.family;
  for (let i = 0; i < a.addr.length; i++) if (a.addr[i] !== b.addr[i]) return a.addr[i]! - b.addr[i]!;
  return a.bits - b.bits;
}

export function hostPrefix(family: 4 | 6, addr: Uint8Array): Prefix {
  return { family, addr, bits: family === 4 ? 32 : 128 };
}
