// Synthesized packets for BPF_PROG_TEST_RUN: Ethernet + IPv4/IPv6 + TCP/UDP/SCTP/ICMP headers,
// just enough for the datapath's parser (no payload, checksums left zero: tc programs do not check them).
import { isIPv4, isIPv6 } from 'node:net';

export const IPPROTO = { ICMP: 1, TCP: 6, UDP: 17, SCTP: 132, ICMPV6: 58 } as const;

export interface PacketSpec {
  saddr: string;
  daddr: string;
  /** IP protocol number (IPPROTO.*). */
  protocol: number;
  /** Source port; for ICMP/ICMPv6 echo the echo identifier. */
  sport?: number;
  /** Destination port; for ICMP/ICMPv6 the ICMP type. */
  dport?: number;
}

export function parseAddr(addr: string): { family: 4 | 6; bytes: Buffer } {
  if (isIPv4(addr)) return { family: 4, bytes: Buffer.from(addr.split('.').map(Number)) };
  if (isIPv6(addr)) {
    const [head = '', tail] = addr.split('::');
    const h = head ? head.split(':') : [];
    const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
    const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
    const b = Buffer.alloc(16);
    groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2));
    return { family: 6, bytes: b };
  }
  throw new Error(`not an IP address: ${addr}`);
}

export function synthesizePacket(p: PacketSpec): Buffer {
  const s = parseAddr(p.saddr);
  const d = parseAddr(p.daddr);
  if (s.family !== d.family) throw new Error(`address families differ: ${p.saddr} and ${p.daddr}`);
  const l4 = l4Header(p);
  const eth = Buffer.alloc(14);
  Buffer.from([0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01]).copy(eth, 0);
  if (s.family === 4) {
    eth.writeUInt16BE(0x0800, 12);
    const ip = Buffer.alloc(20);
    ip[0] = 0x45;
    ip.writeUInt16BE(20 + l4.length, 2);
    ip[8] = 64;
    ip[9] = p.protocol;
    s.bytes.copy(ip, 12);
    d.bytes.copy(ip, 16);
    ip.writeUInt16BE(ipv4Checksum(ip), 10);
    return Buffer.concat([eth, ip, l4]);
  }
  eth.writeUInt16BE(0x86dd, 12);
  const ip6 = Buffer.alloc(40);
  ip6[0] = 0x60;
  ip6.writeUInt16BE(l4.length, 4);
  ip6[6] = p.protocol;
  ip6[7] = 64;
  s.bytes.copy(ip6, 8);
  d.bytes.copy(ip6, 24);
  return Buffer.concat([eth, ip6, l4]);
}

function l4Header(p: PacketSpec): Buffer {
  switch (p.protocol) {
    case IPPROTO.TCP: {
      const t = Buffer.alloc(20);
      t.writeUInt16BE(p.sport ?? 40000, 0);
      t.writeUInt16BE(p.dport ?? 0, 2);
      t[12] = 5 << 4;
      t[13] = 0x02; // SYN
      t.writeUInt16BE(65535, 14);
      return t;
    }
    case IPPROTO.UDP: {
      const u = Buffer.alloc(8);
      u.writeUInt16BE(p.sport ?? 40000, 0);
      u.writeUInt16BE(p.dport ?? 0, 2);
      u.writeUInt16BE(8, 4);
      return u;
    }
    case IPPROTO.SCTP: {
      const c = Buffer.alloc(12);
      c.writeUInt16BE(p.sport ?? 40000, 0);
      c.writeUInt16BE(p.dport ?? 0, 2);
      return c;
    }
    case IPPROTO.ICMP:
    case IPPROTO.ICMPV6: {
      const i = Buffer.alloc(8);
      i[0] = p.dport ?? 8;
      i.writeUInt16BE(p.sport ?? 0x77, 4); // echo identifier
      return i;
    }
    default:
      return Buffer.alloc(8);
  }
}

function ipv4Checksum(h: Buffer): number {
  let sum = 0;
  for (let i = 0; i < h.length; i += 2) sum += h.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** A zeroed struct __sk_buff (uapi, 192 bytes) for test_run's ctx_in; mark sits at offset 8. */
export const SKB_CTX_SIZE = 192;
export const SKB_MARK_OFFSET = 8;

/** The mark a test run left in its __sk_buff context (0 when the run returned no context). */
export function skbMark(ctxOut: Buffer | undefined): number {
  return ctxOut?.readUInt32LE(SKB_MARK_OFFSET) ?? 0;
}
