// bpf/abi is the one home of the datapath's byte layouts: no TypeScript outside it reads or writes
// bytes by offset with Buffer or DataView accessors, except the files below, whose bytes are not
// map keys, values or ring-buffer records of weir's programs.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const scanned = ['cli', 'compiler', 'controller', 'bpf'];

/** Files allowed to use the accessors, and why. */
const allowed: Record<string, string> = {
  'bpf/packet.ts': 'builds Ethernet/IP/TCP/UDP/ICMP packets for test runs and reads struct __sk_buff (kernel uapi, not a weir map)',
  'controller/agent/dns.ts': 'parses and writes the DNS wire format (RFC 1035) for the toFQDNs proxy',
  'bpf/libbpf-ts/map.ts': 'libbpf-ts: bpf_map_info and batch buffers of the bpf() syscall',
  'bpf/libbpf-ts/btf.ts': 'libbpf-ts: the BTF format itself (type and member records), from which layouts are checked',
};

/** Buffer (readUInt32LE, writeBigUInt64LE, ...) and DataView (getUint16, setBigInt64, ...) accessor calls. */
const accessor = /\.(?:read|write)(?:U?Int|BigU?Int64)\w*\(|\.(?:get|set)(?:U?[Ii]nt|BigU?[Ii]nt64)\w*\(/;

/** Lines of `text` that call a byte accessor, 1-based, comments left out. */
export function accessorLines(text: string): number[] {
  const out: number[] = [];
  text.split('\n').forEach((line, i) => {
    const code = line.replace(/\/\/.*$/, '').replace(/^\s*\*.*$/, '');
    if (accessor.test(code)) out.push(i + 1);
  });
  return out;
}

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'node_modules' && e.name !== 'build') out.push(...tsFiles(p));
    } else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

describe('bpf/abi is the home of the datapath byte layouts', () => {
  it('the scanner flags accessor calls and only those', () => {
    expect(accessorLines('const a = b.readUInt32LE(4);')).toEqual([1]);
    expect(accessorLines('x\nv.writeBigUInt64LE(1n, 8);\ny')).toEqual([2]);
    expect(accessorLines('const d = new DataView(buf); d.getUint16(2, true);')).toEqual([1]);
    expect(accessorLines('view.setBigInt64(0, 1n)')).toEqual([1]);
    expect(accessorLines('b.readInt8(0)')).toEqual([1]);
    expect(accessorLines('setInterval(() => 1, 5); getInt(b, field); // b.readUInt32LE(0)\n * b.writeUInt16BE(1)')).toEqual([]);
  });

  it('no file of cli/, compiler/, controller/ or bpf/ outside bpf/abi reads or writes bytes by offset, but the allowed ones', () => {
    const offenders: string[] = [];
    const used = new Set<string>();
    for (const top of scanned)
      for (const file of tsFiles(join(root, top))) {
        const rel = relative(root, file);
        if (rel.startsWith('bpf/abi/')) continue;
        const lines = accessorLines(readFileSync(file, 'utf8'));
        if (lines.length === 0) continue;
        if (allowed[rel]) used.add(rel);
        else offenders.push(`${rel}:${lines.join(',')}`);
      }
    expect(offenders, 'byte offsets belong in bpf/abi (layouts.ts accessors, net.ts / runtime.ts encoders)').toEqual([]);
    // An allowance nobody needs any more is removed, so the list stays the true exceptions.
    expect([...used].sort()).toEqual(Object.keys(allowed).sort());
  });
});
