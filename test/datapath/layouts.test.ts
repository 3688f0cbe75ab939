// Layouts from BTF: the ABI's layout tables (netLayouts, runtimeLayouts) must match the compiled
// objects byte for byte; a changed header must be caught.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { abiObjects, btfLayouts, checkLayouts, netStructs } from '../../bpf/abi/check.js';
import { compareLayouts } from '../../bpf/abi/layouts.js';
import { decodeNetEvent, netLayouts } from '../../bpf/abi/net.js';
import { ensureBuilt } from './helpers.js';

const root = resolve(import.meta.dirname, '../..');
const endpointObj = resolve(root, 'bpf/build/endpoint.bpf.o');
// BTF parsing needs only libbpf, not root; clang must be present to build (required under CI=true).
const haveClang = (() => {
  try {
    execFileSync('clang', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    if (process.env['CI'] === 'true')
      throw new Error('layout tests are required under CI=true but clang is not installed (scripts/setup.sh)');
    console.warn('skipping layout tests: clang is not installed (scripts/setup.sh installs it)');
    return false;
  }
})();

describe.skipIf(!haveClang)('layouts from BTF', () => {
  let tmp: string;
  beforeAll(() => {
    ensureBuilt();
    tmp = mkdtempSync(join(tmpdir(), 'wdp-layouts-'));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('every weir_net.h struct is in the endpoint object, as the encoders assume', () => {
    const actual = btfLayouts(endpointObj);
    expect(Object.keys(actual).sort()).toEqual([...netStructs].sort());
    expect(compareLayouts(netLayouts, actual, 'bpf/abi/net.ts')).toEqual([]);
  });

  it('the build-time check compares both tables with both objects', () => {
    const r = checkLayouts(resolve(root, 'bpf/build'));
    expect(r.problems).toEqual([]);
    expect(r.checked).toEqual(
      abiObjects.filter((o) => existsSync(resolve(root, 'bpf/build', o.object))).map((o) => `${o.source} against ${o.object}`),
    );
    expect(r.checked).toContain('bpf/abi/net.ts netLayouts against endpoint.bpf.o');
  });

  it('the build-time check fails on a table that disagrees with BTF, and with no object at all', () => {
    const dir = join(tmp, 'objects');
    mkdirSync(dir, { recursive: true });
    expect(checkLayouts(dir).problems).toEqual([`no object to check in ${dir}: run \`node bpf/build.mjs\` first`]);
    const wrong = {
      ...netLayouts,
      weir_ipcache_value: { size: 8, fields: { identity: { offset: 4, size: 4 }, flags: { offset: 0, size: 4 } } },
    };
    expect(compareLayouts(wrong, btfLayouts(endpointObj), 'bpf/abi/net.ts')).toEqual([
      'bpf/abi/net.ts: weir_ipcache_value.identity is at offset 4 size 4 in TypeScript but offset 0 size 4 in BTF',
      'bpf/abi/net.ts: weir_ipcache_value.flags is at offset 0 size 4 in TypeScript but offset 4 size 4 in BTF',
    ]);
  });

  it('catches a header change that moves a field', () => {
    const header = readFileSync(join(root, 'bpf/include/weir_net.h'), 'utf8');
    // Swap precedence and cookie in the policy value: same size, different offsets.
    const mutated = header.replace(
      '__u32 precedence; /* higher wins among non-deny entries */\n\t__u32 cookie;',
      '__u32 cookie;\n\t__u32 precedence;',
    );
    expect(mutated).not.toBe(header);
    mkdirSync(join(tmp, 'include'), { recursive: true });
    writeFileSync(join(tmp, 'include/weir_net.h'), mutated);
    writeFileSync(join(tmp, 'anchor.bpf.c'), '#include "weir_net.h"\nstruct weir_policy_value anchor_value __attribute__((used));\n');
    const obj = join(tmp, 'anchor.bpf.o');
    execFileSync('clang', [
      '-O2',
      '-g',
      '-target',
      'bpf',
      '-I',
      join(tmp, 'include'),
      '-I',
      '/usr/include/x86_64-linux-gnu',
      '-c',
      join(tmp, 'anchor.bpf.c'),
      '-o',
      obj,
    ]);
    const problems = compareLayouts(
      { weir_policy_value: netLayouts.weir_policy_value },
      btfLayouts(obj, ['weir_policy_value']),
      'encoders',
    );
    expect(problems).toEqual([
      'encoders: weir_policy_value.precedence is at offset 8 size 4 in TypeScript but offset 12 size 4 in BTF',
      'encoders: weir_policy_value.cookie is at offset 12 size 4 in TypeScript but offset 8 size 4 in BTF',
    ]);
  });

  it('reports sizes, missing structs and unknown fields', () => {
    const actual = btfLayouts(endpointObj);
    const claimed = { weir_ipcache_value: { size: 12, fields: { identity: { offset: 0, size: 4 } } }, weir_gone: { size: 4, fields: {} } };
    expect(compareLayouts(claimed, actual, 'x')).toEqual([
      'x: struct weir_ipcache_value is 12 bytes in TypeScript but 8 in BTF',
      'x: weir_ipcache_value.flags (offset 4) is in BTF but TypeScript does not know it',
      "x: struct weir_gone is not in the objects' BTF (renamed or removed in weir_net.h?)",
    ]);
  });

  it('decodes events at the BTF offsets', () => {
    const l = btfLayouts(endpointObj)['weir_net_event']!;
    const at = (n: string) => l.fields.find((x) => x.name === n)!.offset;
    const b = Buffer.alloc(l.size);
    b.writeUInt32LE(77, at('cookie'));
    b.writeUInt32LE(300, at('dst_identity'));
    b[at('family')] = 6;
    b[at('direction')] = 1;
    b.writeUInt16LE(8080, at('dport'));
    b[at('daddr') + 15] = 1;
    const e = decodeNetEvent(b);
    expect([e.cookie, e.dstIdentity, e.family, e.direction, e.dport, e.daddr]).toEqual([77, 300, 6, 'egress', 8080, '::1']);
  });
});
