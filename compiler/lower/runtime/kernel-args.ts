// Argument types and socket operators of hooks on kernel functions (kprobes, fentry, BPF LSM): how each
// Tetragon argument type is read (bpf/runtime/wrt_args.h) and compared, and the lowering of Family,
// Protocol, State, ports and addresses to selector records. Syscall hooks keep the syscall readers.
import { isIPv4, isIPv6 } from 'node:net';
import { K, type KMatchArg } from '../../../bpf/abi/runtime.js';
import type { MatchArg } from '../../ir/runtime/compile.js';
import { limits } from '../../ir/runtime/compile.js';
import type { Span } from '../../diagnostics.js';

/** How the engine compares an argument: as a number, a string (path, name, bytes), a socket, or not at all (reported only). */
export type ArgClass = 'num' | 'str' | 'sock' | 'report';

export interface ArgKind {
  type: number;
  cls: ArgClass;
}

const num = (type: number): ArgKind => ({ type, cls: 'num' });
const str = (type: number): ArgKind => ({ type, cls: 'str' });

/** Types a syscall hook (tracepoint or syscall entry) reads from the syscall's registers. */
export const syscallArgTypes: Readonly<Record<string, ArgKind>> = {
  int: num(K.ARG.int),
  int32: num(K.ARG.int),
  sint32: num(K.ARG.int),
  uint32: num(K.ARG.uint32),
  u32: num(K.ARG.uint32),
  int64: num(K.ARG.int64),
  long: num(K.ARG.int64),
  syscall64: num(K.ARG.int64),
  s64: num(K.ARG.int64),
  uint64: num(K.ARG.uint64),
  u64: num(K.ARG.uint64),
  size_t: num(K.ARG.uint64),
  ulong: num(K.ARG.uint64),
  string: str(K.ARG.string),
};

/** Types a hook on a kernel function reads with CO-RE (the syscall types, plus kernel structs). */
export const kernelArgTypes: Readonly<Record<string, ArgKind>> = {
  ...syscallArgTypes,
  fd: str(K.ARG.fd),
  char_buf: str(K.ARG.char_buf),
  file: str(K.ARG.file),
  path: str(K.ARG.path),
  dentry: str(K.ARG.dentry),
  kiocb: str(K.ARG.kiocb),
  linux_binprm: str(K.ARG.linux_binprm),
  module: str(K.ARG.module),
  load_info: str(K.ARG.load_info),
  bpf_map: str(K.ARG.bpf_map),
  net_device: str(K.ARG.net_device),
  iov_iter: str(K.ARG.iov_iter),
  sock: { type: K.ARG.sock, cls: 'sock' },
  skb: { type: K.ARG.skb, cls: 'sock' },
  sockaddr: { type: K.ARG.sockaddr, cls: 'sock' },
  socket: { type: K.ARG.socket, cls: 'sock' },
  capability: num(K.ARG.capability),
  cred: { type: K.ARG.cred, cls: 'report' },
  user_namespace: { type: K.ARG.user_namespace, cls: 'report' },
  bpf_attr: { type: K.ARG.bpf_attr, cls: 'report' },
  perf_event: { type: K.ARG.perf_event, cls: 'report' },
  nop: { type: K.ARG.nop, cls: 'report' },
};

/** The class of an encoded wrt_hook.arg_type byte. */
export function argClass(typeByte: number): ArgClass {
  const t = typeByte & K.ARG_TYPE_MASK;
  for (const k of Object.values(kernelArgTypes)) if (k.type === t) return k.cls;
  return 'num';
}

/** Address families by name, as Linux numbers them (include/linux/socket.h) and Tetragon reads them. */
const families: Record<string, number> = Object.fromEntries(
  [
    'AF_UNSPEC',
    'AF_UNIX',
    'AF_INET',
    'AF_AX25',
    'AF_IPX',
    'AF_APPLETALK',
    'AF_NETROM',
    'AF_BRIDGE',
    'AF_ATMPVC',
    'AF_X25',
    'AF_INET6',
    'AF_ROSE',
    'AF_DECnet',
    'AF_NETBEUI',
    'AF_SECURITY',
    'AF_KEY',
    'AF_NETLINK',
    'AF_PACKET',
    'AF_ASH',
    'AF_ECONET',
    'AF_ATMSVC',
    'AF_RDS',
    'AF_SNA',
    'AF_IRDA',
    'AF_PPPOX',
    'AF_WANPIPE',
    'AF_LLC',
    'AF_IB',
    'AF_MPLS',
    'AF_CAN',
    'AF_TIPC',
    'AF_BLUETOOTH',
    'AF_IUCV',
    'AF_RXRPC',
    'AF_ISDN',
    'AF_PHONET',
    'AF_IEEE802154',
    'AF_CAIF',
    'AF_ALG',
    'AF_NFC',
    'AF_VSOCK',
    'AF_KCM',
    'AF_QIPCRTR',
    'AF_SMC',
    'AF_XDP',
    'AF_MCTP',
  ].map((n, i) => [n, i]),
);
/** IP protocols by name, as Linux numbers them (include/uapi/linux/in.h, in6.h). */
const protocols: Record<string, number> = {
  IPPROTO_IP: 0,
  IPPROTO_ICMP: 1,
  IPPROTO_IGMP: 2,
  IPPROTO_IPIP: 4,
  IPPROTO_TCP: 6,
  IPPROTO_EGP: 8,
  IPPROTO_PUP: 12,
  IPPROTO_UDP: 17,
  IPPROTO_IDP: 22,
  IPPROTO_TP: 29,
  IPPROTO_DCCP: 33,
  IPPROTO_IPV6: 41,
  IPPROTO_RSVP: 46,
  IPPROTO_GRE: 47,
  IPPROTO_ESP: 50,
  IPPROTO_AH: 51,
  IPPROTO_ICMPV6: 58,
  IPPROTO_MTP: 92,
  IPPROTO_BEETPH: 94,
  IPPROTO_ENCAP: 98,
  IPPROTO_PIM: 103,
  IPPROTO_COMP: 108,
  IPPROTO_L2TP: 115,
  IPPROTO_SCTP: 132,
  IPPROTO_UDPLITE: 136,
  IPPROTO_MPLS: 137,
  IPPROTO_ETHERNET: 143,
  IPPROTO_RAW: 255,
  IPPROTO_MPTCP: 262,
};
const tcpStates: Record<string, number> = {
  TCP_ESTABLISHED: 1,
  TCP_SYN_SENT: 2,
  TCP_SYN_RECV: 3,
  TCP_FIN_WAIT1: 4,
  TCP_FIN_WAIT2: 5,
  TCP_TIME_WAIT: 6,
  TCP_CLOSE: 7,
  TCP_CLOSE_WAIT: 8,
  TCP_LAST_ACK: 9,
  TCP_LISTEN: 10,
  TCP_CLOSING: 11,
  TCP_NEW_SYN_RECV: 12,
};
/** The names each socket operator's values may use, besides numbers. */
export const socketValueNames: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  Family: families,
  Protocol: protocols,
  State: tcpStates,
};

/** An address CIDR as a prefix-trie key: family byte (4 or 6), the address, and its significant bits (8 + prefix). */
export interface AddrKey {
  bytes: Uint8Array;
  bits: number;
}

function ipv6Bytes(s: string): Uint8Array | undefined {
  if (!isIPv6(s)) return undefined;
  let text = s;
  const out = new Uint8Array(16);
  // A trailing dotted quad (::ffff:1.2.3.4) becomes two groups.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const q = dotted[1]!.split('.').map(Number);
    text = `${text.slice(0, -dotted[1]!.length)}${((q[0]! << 8) | q[1]!).toString(16)}:${((q[2]! << 8) | q[3]!).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  groups.forEach((g, i) => {
    const v = Number.parseInt(g, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  });
  return out;
}

/** The key bytes of an address (family byte then address), or undefined when it is not an IP address. */
export function addressKey(addr: string): Uint8Array | undefined {
  if (isIPv4(addr)) return Uint8Array.from([4, ...addr.split('.').map(Number)]);
  const v6 = ipv6Bytes(addr);
  return v6 ? Uint8Array.from([6, ...v6]) : undefined;
}

/** A CIDR (or a bare address) as a prefix-trie key, or a reason. */
export function parseCidr(value: string): AddrKey | string {
  const [addr, len, extra] = value.trim().split('/');
  if (extra !== undefined || !addr) return `${JSON.stringify(value)} is not an address or CIDR`;
  const key = addressKey(addr);
  if (!key) return `${JSON.stringify(value)} is not an IPv4 or IPv6 address or CIDR`;
  const max = key[0] === 4 ? 32 : 128;
  const bits = len === undefined ? max : Number(len);
  if (!Number.isInteger(bits) || bits < 0 || bits > max || (len !== undefined && !/^\d+$/.test(len)))
    return `${JSON.stringify(value)}: the prefix length must be 0 to ${max}`;
  // Host bits are cleared, as the trie compares only the prefix.
  const bytes = Uint8Array.from(key);
  for (let b = bits; b < max; b++) bytes[1 + (b >> 3)]! &= ~(0x80 >> (b & 7));
  return { bytes, bits: 8 + bits };
}

export type NewSet = {
  (kind: 'str' | 'prefix' | 'postfix' | 'num', values: (string | bigint)[]): number;
  (kind: 'addr', values: AddrKey[]): number;
};

/** Lowers one socket operator on a sock/skb/sockaddr/socket argument at position `pos`. */
export function lowerSocketMatch(
  m: MatchArg,
  pos: number,
  newSet: NewSet,
  err: (span: Span, m: string, rule?: string) => void,
): KMatchArg | undefined {
  const op = K.OP[m.operator];
  if (m.operator.endsWith('Priv')) {
    if (m.values.length > 0) err(m.span, `${m.operator} takes no values: it matches ports below 1024`, 'runtime/bad-value');
    return { index: pos, op, vals: [], setId: 0 };
  }
  if (m.operator.endsWith('Addr')) {
    const keys: AddrKey[] = [];
    for (let i = 0; i < m.values.length; i++) {
      const k = parseCidr(m.values[i]!);
      if (typeof k === 'string') {
        err(m.valueSpans[i] ?? m.span, `${m.operator}: ${k}`, 'runtime/bad-value');
        return undefined;
      }
      keys.push(k);
    }
    return { index: pos, op, vals: [], setId: newSet('addr', keys) };
  }
  const names = socketValueNames[m.operator] ?? {};
  const vals: bigint[] = [];
  for (let i = 0; i < m.values.length; i++) {
    const raw = m.values[i]!.trim();
    const n = /^\d+$/.test(raw) ? Number(raw) : names[raw];
    const max = m.operator.endsWith('Port') ? 65535 : 255;
    if (n === undefined || n > max) {
      const known = Object.keys(names);
      err(
        m.valueSpans[i] ?? m.span,
        `${m.operator} value ${JSON.stringify(raw)} is not ${m.operator.endsWith('Port') ? 'a port (0 to 65535)' : `a number or one of ${known.join(', ')}`}`,
        'runtime/bad-value',
      );
      return undefined;
    }
    vals.push(BigInt(n));
  }
  // Up to 4 values inline; more in a numeric set.
  if (vals.length <= limits.valuesPerNumericOperator) return { index: pos, op, vals, setId: 0 };
  return { index: pos, op, vals: [], setId: newSet('num', vals) };
}
