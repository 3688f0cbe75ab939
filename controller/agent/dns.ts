// Just enough of the DNS wire format (RFC 1035) for the agent's proxy: questions and A/AAAA
// answers with their TTLs, names with compression pointers, and a REFUSED reply.
export interface DnsQuestion {
  name: string;
  type: number;
}

export interface DnsAnswer {
  name: string;
  type: number;
  ttl: number;
  /** Address for A/AAAA, target name for CNAME, undefined otherwise. */
  data?: string;
}

export interface DnsMessage {
  id: number;
  flags: number;
  rcode: number;
  questions: DnsQuestion[];
  answers: DnsAnswer[];
}

export const TYPE_A = 1;
export const TYPE_CNAME = 5;
export const TYPE_AAAA = 28;
export const RCODE_REFUSED = 5;

function readName(b: Buffer, off: number): { name: string; next: number } {
  const labels: string[] = [];
  let next = -1;
  for (let hops = 0; hops < 64; hops++) {
    if (off >= b.length) throw new Error('DNS name runs past the message');
    const len = b[off]!;
    if (len === 0) {
      if (next < 0) next = off + 1;
      return { name: labels.join('.').toLowerCase(), next };
    }
    if ((len & 0xc0) === 0xc0) {
      if (off + 1 >= b.length) throw new Error('truncated DNS compression pointer');
      if (next < 0) next = off + 2;
      off = ((len & 0x3f) << 8) | b[off + 1]!;
      continue;
    }
    labels.push(b.toString('latin1', off + 1, off + 1 + len));
    off += 1 + len;
  }
  throw new Error('DNS name has too many compression hops');
}

export function parseDns(b: Buffer): DnsMessage {
  if (b.length < 12) throw new Error('DNS message shorter than its header');
  const id = b.readUInt16BE(0);
  const flags = b.readUInt16BE(2);
  const qd = b.readUInt16BE(4);
  const an = b.readUInt16BE(6);
  let off = 12;
  const questions: DnsQuestion[] = [];
  for (let i = 0; i < qd; i++) {
    const n = readName(b, off);
    questions.push({ name: n.name, type: b.readUInt16BE(n.next) });
    off = n.next + 4;
  }
  const answers: DnsAnswer[] = [];
  for (let i = 0; i < an; i++) {
    const n = readName(b, off);
    const type = b.readUInt16BE(n.next);
    const ttl = b.readUInt32BE(n.next + 4);
    const rdlen = b.readUInt16BE(n.next + 8);
    const rd = n.next + 10;
    let data: string | undefined;
    if (type === TYPE_A && rdlen === 4) data = [...b.subarray(rd, rd + 4)].join('.');
    else if (type === TYPE_AAAA && rdlen === 16) data = [...Array(8).keys()].map((k) => b.readUInt16BE(rd + 2 * k).toString(16)).join(':');
    else if (type === TYPE_CNAME) data = readName(b, rd).name;
    answers.push({ name: n.name, type, ttl, ...(data !== undefined ? { data } : {}) });
    off = rd + rdlen;
  }
  return { id, flags, rcode: flags & 0xf, questions, answers };
}

/** The query turned into a REFUSED response (header flags QR=1, RA copied, RCODE=5), question kept. */
export function refusedReply(query: Buffer): Buffer {
  const q = parseDns(query);
  let off = 12;
  for (let i = 0; i < q.questions.length; i++) off = readName(query, off).next + 4;
  const out = Buffer.from(query.subarray(0, off));
  out.writeUInt16BE(0x8000 | (q.flags & 0x0100) | 0x0080 | RCODE_REFUSED, 2);
  out.writeUInt16BE(0, 6);
  out.writeUInt16BE(0, 8);
  out.writeUInt16BE(0, 10);
  return out;
}
