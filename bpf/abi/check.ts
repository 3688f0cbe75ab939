// The ABI's layout tables against the BTF of the compiled objects: netLayouts against endpoint.bpf.o,
// runtimeLayouts against wrt_runtime.bpf.o. bpf/build.mjs runs this file after compiling
// (`node --import tsx bpf/abi/check.ts [OBJECTS_DIR]`, exit 1 on any difference).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Btf } from '../libbpf-ts/index.js';
import { objectsDir } from '../paths.js';
import { compareLayouts, type BtfStructLayout, type LayoutTable } from './layouts.js';
import { netLayouts } from './net.js';
import { kernelEntryLayouts, runtimeLayouts } from './runtime.js';

/** Each object, the header its structs come from, and the table that states them. */
export const abiObjects: readonly { object: string; header: string; source: string; table: LayoutTable }[] = [
  { object: 'endpoint.bpf.o', header: 'weir_net.h', source: 'bpf/abi/net.ts netLayouts', table: netLayouts },
  { object: 'wrt_runtime.bpf.o', header: 'weir_runtime.h', source: 'bpf/abi/runtime.ts runtimeLayouts', table: runtimeLayouts },
  {
    object: 'wrt_readers.bpf.o',
    header: 'bpf/runtime/wrt_args.h',
    source: 'bpf/abi/runtime.ts kernelEntryLayouts',
    table: kernelEntryLayouts,
  },
];

export const netStructs = Object.keys(netLayouts) as (keyof typeof netLayouts)[];

/** The layouts of `structs` as the object's BTF has them (a struct the BTF lacks is left out). */
export function btfLayouts(object: string, structs: readonly string[] = netStructs): Record<string, BtfStructLayout> {
  using btf = Btf.parse(object);
  const out: Record<string, BtfStructLayout> = {};
  for (const s of structs) {
    const l = btf.struct(s);
    if (!l) continue;
    out[s] = { size: l.size, fields: l.members.map((m) => ({ name: m.name, offset: m.offset, size: m.size })) };
  }
  return out;
}

export interface LayoutCheck {
  /** The tables checked, each with its object. */
  checked: string[];
  /** Objects not built (nothing to check them against). */
  missing: string[];
  problems: string[];
}

/** Checks every table whose object is built in `dir`; no object at all is a problem. */
export function checkLayouts(dir = objectsDir()): LayoutCheck {
  const r: LayoutCheck = { checked: [], missing: [], problems: [] };
  for (const o of abiObjects) {
    const path = join(dir, o.object);
    if (!existsSync(path)) {
      r.missing.push(path);
      continue;
    }
    r.problems.push(...compareLayouts(o.table, btfLayouts(path, Object.keys(o.table)), o.source, o.header));
    r.checked.push(`${o.source} against ${o.object}`);
  }
  if (r.checked.length === 0) r.problems.push(`no object to check in ${dir}: run \`node bpf/build.mjs\` first`);
  return r;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = checkLayouts(process.argv[2]);
  if (r.problems.length > 0) {
    console.error(`layout check failed:\n  ${r.problems.join('\n  ')}`);
    process.exit(1);
  }
  console.error(`layout check: ${r.checked.join('; ')} agree with BTF${r.missing.length ? ` (not built: ${r.missing.join(', ')})` : ''}`);
}
