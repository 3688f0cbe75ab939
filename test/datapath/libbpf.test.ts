// libbpf-ts against the real kernel: maps, batch ops, map-in-map swap seen by a program, ring buffer, BTF, probes, errors.
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BpfError, BpfMap, BpfObject, Btf, RingBuffer, probeFeatures, u32 } from '../../bpf/libbpf-ts/index.js';
import { skipKernel } from '../kernel-env.js';
import { ensureBuilt } from './helpers.js';

const root = resolve(import.meta.dirname, '../..');
const fixture = resolve(root, 'bpf/build/fixture.bpf.o');
const pinDir = `/sys/fs/bpf/wdp-t${process.pid.toString(16)}`;

function hashMap(max = 64): BpfMap {
  return BpfMap.create({ type: 'hash', name: 'wdp_test', keySize: 4, valueSize: 4, maxEntries: max });
}

describe.skipIf(skipKernel())('libbpf-ts', () => {
  beforeAll(() => ensureBuilt());
  afterAll(() => rmSync(pinDir, { force: true, recursive: true }));

  it('creates a hash map, updates, looks up, deletes and iterates', () => {
    using m = hashMap();
    expect(m.type).toBe('hash');
    expect([m.keySize, m.valueSize, m.maxEntries]).toEqual([4, 4, 64]);
    m.update(7, u32(70));
    m.update(8, u32(80));
    expect(m.lookup(7)?.readUInt32LE(0)).toBe(70);
    expect(m.lookup(9)).toBeUndefined();
    expect([...m.keys()].map((k) => k.readUInt32LE(0)).sort()).toEqual([7, 8]);
    expect(m.delete(7)).toBe(true);
    expect(m.delete(7)).toBe(false);
    expect([...m.entries()].map(([k, v]) => [k.readUInt32LE(0), v.readUInt32LE(0)])).toEqual([[8, 80]]);
  });

  it('batch-updates, batch-looks-up and batch-deletes', () => {
    using m = hashMap(5000);
    const n = 3000;
    const keys = Buffer.alloc(4 * n);
    const values = Buffer.alloc(4 * n);
    for (let i = 0; i < n; i++) {
      keys.writeUInt32LE(i, 4 * i);
      values.writeUInt32LE(i * 3, 4 * i);
    }
    expect(m.updateBatch(keys, values)).toBe(n);
    const all = m.lookupBatch(512);
    expect(all.count).toBe(n);
    const seen = new Map<number, number>();
    for (let i = 0; i < all.count; i++) seen.set(all.keys.readUInt32LE(4 * i), all.values.readUInt32LE(4 * i));
    expect(seen.get(2999)).toBe(8997);
    expect(seen.size).toBe(n);
    expect(m.deleteBatch(keys.subarray(0, 4 * 1000))).toBe(1000);
    expect(m.lookupBatch().count).toBe(2000);
  });

  it('loads key‖value records and rejects truncated ones with a clear error', () => {
    using m = hashMap();
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(1, 0);
    rec.writeUInt32LE(11, 4);
    rec.writeUInt32LE(2, 8);
    rec.writeUInt32LE(22, 12);
    expect(m.updateRecords(rec)).toBe(2);
    expect(m.lookup(2)?.readUInt32LE(0)).toBe(22);
    expect(() => m.updateRecords(rec.subarray(0, 13))).toThrow(/not whole 4\+4 byte records/);
  });

  it('reports a full map with the errno name', () => {
    using m = hashMap(2);
    m.update(1, u32(1));
    m.update(2, u32(2));
    let err: unknown;
    try {
      m.update(3, u32(3));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BpfError);
    expect((err as BpfError).code).toBe('E2BIG');
    expect((err as BpfError).message).toMatch(/is full \(max_entries 2\)/);
  });

  it('rejects a key of the wrong size before calling the kernel', () => {
    using m = hashMap();
    expect(() => m.update(Buffer.alloc(3), u32(1))).toThrow(/key is 3 bytes, the map's key size is 4/);
  });

  it('pins and reopens a map; refuses to pin over an existing pin', () => {
    rmSync(pinDir, { force: true, recursive: true });
    mkdirSync(pinDir);
    const path = `${pinDir}/m`;
    {
      using m = hashMap();
      m.update(5, u32(55));
      m.pin(path);
    }
    using again = BpfMap.openPinned(path);
    expect(again.lookup(5)?.readUInt32LE(0)).toBe(55);
    using other = hashMap();
    expect(() => other.pin(path)).toThrow(/EEXIST/);
    BpfMap.unpin(path);
    expect(existsSync(path)).toBe(false);
    {
      using obj = BpfObject.open(fixture, { programs: ['fixture_tc'] }).load();
      obj.program('fixture_tc').pin(`${pinDir}/prog`);
    }
    expect(() => BpfMap.openPinned(`${pinDir}/prog`)).toThrow(/not a map \(a program or link\?\)/);
    BpfMap.unpin(`${pinDir}/prog`);
    expect(() => BpfMap.openPinned(path)).toThrow(/ENOENT.*nothing is pinned there/s);
  });

  it('swaps a map-in-map slot and the program sees the new inner map at once', () => {
    using obj = BpfObject.open(fixture, { programs: ['fixture_tc'] }).load();
    const outer = obj.map('fixture_outer');
    const prog = obj.program('fixture_tc');
    expect(prog.type).toBe('sched_cls');
    const pkt = Buffer.alloc(64);
    expect(prog.testRun({ data: pkt }).retval).toBe(1000); // empty slot
    using a = BpfMap.create({ type: 'hash', name: 'wdp_a', keySize: 4, valueSize: 4, maxEntries: 64 });
    using b = BpfMap.create({ type: 'hash', name: 'wdp_b', keySize: 4, valueSize: 4, maxEntries: 64 });
    a.update(64, u32(1));
    b.update(64, u32(2));
    outer.setInner(0, a);
    expect(prog.testRun({ data: pkt }).retval).toBe(1);
    expect(outer.innerId(0)).toBe(a.id);
    outer.setInner(0, b);
    expect(prog.testRun({ data: pkt }).retval).toBe(2);
    expect(prog.testRun({ data: Buffer.alloc(60) }).retval).toBe(1001);
    using live = outer.openInner(0);
    expect(live?.id).toBe(b.id);
  });

  it('rejects an inner map of the wrong shape', () => {
    using obj = BpfObject.open(fixture, { programs: ['fixture_tc'] }).load();
    using wrong = BpfMap.create({ type: 'hash', name: 'wdp_w', keySize: 8, valueSize: 4, maxEntries: 64 });
    expect(() => obj.map('fixture_outer').setInner(0, wrong)).toThrow(/EINVAL/);
  });

  it('delivers ring buffer samples through the event loop from a tracepoint', async () => {
    using obj = BpfObject.open(fixture, { programs: ['fixture_tp'] }).load();
    obj.map('fixture_config').update(0, u32(process.pid));
    const got: Buffer[] = [];
    let wake: () => void = () => {};
    const arrived = new Promise<void>((r) => (wake = r));
    using rb = new RingBuffer(obj.map('fixture_events'), (d) => {
      got.push(d);
      wake();
    });
    using link = obj.program('fixture_tp').attachTracepoint('syscalls', 'sys_enter_getppid');
    expect(link.fd).toBeGreaterThan(0);
    void process.ppid; // getppid(2)
    await Promise.race([arrived, new Promise((_, rej) => setTimeout(() => rej(new Error('no ring buffer sample within 2s')), 2000))]);
    expect(rb.consume()).toBe(0);
    expect(got[0]?.readUInt32LE(0)).toBe(process.pid);
    expect(got[0]?.readUInt32LE(4)).toBe(0x77646570);
  });

  it('reads struct layouts from BTF', () => {
    using btf = Btf.parse(fixture);
    const ev = btf.struct('fixture_event');
    expect(ev).toEqual({
      name: 'fixture_event',
      kind: 'struct',
      size: 8,
      members: [
        { name: 'tgid', offset: 0, bitOffset: 0, bitfieldSize: 0, size: 4, type: '__u32' },
        { name: 'magic', offset: 4, bitOffset: 32, bitfieldSize: 0, size: 4, type: '__u32' },
      ],
    });
    expect(btf.struct('no_such_struct')).toBeUndefined();
  });

  it('shows the verifier log tail when a program is rejected', () => {
    let err: unknown;
    try {
      BpfObject.open(fixture, { programs: ['fixture_rejected'] }).load();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BpfError);
    const e = err as BpfError;
    expect(e.code).toBe('EACCES');
    expect(e.message).toContain('the verifier rejected a program (log tail below)');
    expect(e.log.join('\n')).toMatch(/invalid mem access 'map_value_or_null'/);
  });

  it('loads only the programs asked for', () => {
    using obj = BpfObject.open(fixture, { programs: ['fixture_tc'] }).load();
    expect(obj.programs().map((p) => [p.name, p.autoload])).toEqual([
      ['fixture_tc', true],
      ['fixture_rejected', false],
      ['fixture_tp', false],
    ]);
    expect(() => obj.program('fixture_tp').fd).toThrow(/not autoloaded/);
    expect(() => BpfObject.open(fixture, { programs: ['nope'] })).toThrow(/has programs fixture_tc, fixture_rejected, fixture_tp/);
  });

  it('probes program types, map types and hooks', () => {
    const f = probeFeatures();
    expect(f.progTypes.sched_cls).toBe(true);
    expect(f.mapTypes.lpm_trie).toBe(true);
    expect(f.mapTypes.hash_of_maps).toBe(true);
    const tp = f.hooks.find((h) => h.hook === 'tracepoint');
    expect(tp).toMatchObject({ loads: true, attaches: true });
    for (const h of f.hooks) if (!h.attaches) expect(h.error).toMatch(/^E[A-Z0-9]+/);
  });

  it('fails opening a missing object with a hint', () => {
    expect(() => BpfObject.open('/nonexistent/wdp.o')).toThrow(/ENOENT.*npm run build/s);
  });
});
