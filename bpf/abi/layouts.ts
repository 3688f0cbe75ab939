// Map layouts from BTF, checked against every TypeScript encoder that writes or reads them.
// weir_net.h is the single source of truth; the compiled objects' BTF is its machine-readable form.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Btf } from '../libbpf-ts/index.js';
import { objectPath } from '../paths.js';

export interface FieldLayout {
  name: string;
  offset: number;
  size: number;
}

export interface StructLayout {
  size: number;
  fields: FieldLayout[];
}

export type LayoutTable = Record<string, StructLayout>;

export const netStructs = ['weir_policy_key', 'weir_policy_value', 'weir_ipcache_key', 'weir_ipcache_value', 'weir_endpoint_value', 'weir_net_event', 'weir_prefilter_value'] as const;

/** The layouts of `structs` as the object's BTF has them. */
export function btfLayouts(object: string, structs: readonly string[] = netStructs): LayoutTable {
  using btf = Btf.parse(object);
  const out: LayoutTable = {};
  for (const s of structs) {
    const l = btf.struct(s);
    if (!l) continue;
    out[s] = { size: l.size, fields: l.members.map((m) => ({ name: m.name, offset: m.offset, size: m.size })) };
  }
  return out;
}

/**
 * What the datapath's own TypeScript (decodeNetEvent in bpf/net/loader.ts, the prefilter value) assumes.
 * Written out by hand on purpose: the check below is what makes it trustworthy.
 */
export const datapathLayouts: LayoutTable = {
  weir_policy_key: { size: 12, fields: [f('prefixlen', 0, 4), f('identity', 4, 4), f('direction', 8, 1), f('protocol', 9, 1), f('dport_be', 10, 2)] },
  weir_policy_value: { size: 16, fields: [f('verdict', 0, 1), f('auth', 1, 1), f('flags', 2, 1), f('pad0', 3, 1), f('proxy_port', 4, 2), f('pad1', 6, 2), f('precedence', 8, 4), f('cookie', 12, 4)] },
  weir_ipcache_key: { size: 24, fields: [f('prefixlen', 0, 4), f('family', 4, 1), f('pad', 5, 3), f('addr', 8, 16)] },
  weir_ipcache_value: { size: 8, fields: [f('identity', 0, 4), f('flags', 4, 4)] },
  weir_endpoint_value: { size: 16, fields: [f('endpoint_id', 0, 4), f('identity', 4, 4), f('flags', 8, 4), f('pad', 12, 4)] },
  weir_net_event: {
    size: 72,
    fields: [
      f('ts_ns', 0, 8), f('cookie', 8, 4), f('endpoint_id', 12, 4), f('src_identity', 16, 4), f('dst_identity', 20, 4),
      f('verdict', 24, 1), f('direction', 25, 1), f('protocol', 26, 1), f('family', 27, 1), f('reason', 28, 1), f('audit', 29, 1),
      f('pad', 30, 2), f('sport', 32, 2), f('dport', 34, 2), f('saddr', 36, 16), f('daddr', 52, 16),
    ],
  },
  weir_prefilter_value: { size: 8, fields: [f('cookie', 0, 4), f('flags', 4, 4)] },
};

function f(name: string, offset: number, size: number): FieldLayout {
  return { name, offset, size };
}

/** Differences between what TypeScript assumes (`claimed`) and the BTF (`actual`), one line each. */
export function compareLayouts(claimed: LayoutTable, actual: LayoutTable, source: string): string[] {
  const problems: string[] = [];
  for (const [name, want] of Object.entries(claimed)) {
    const have = actual[name];
    if (!have) {
      problems.push(`${source}: struct ${name} is not in the objects' BTF (renamed or removed in weir_net.h?)`);
      continue;
    }
    if (want.size !== have.size) problems.push(`${source}: struct ${name} is ${want.size} bytes in TypeScript but ${have.size} in BTF`);
    for (const fw of want.fields) {
      const fh = have.fields.find((x) => x.name === fw.name);
      if (!fh) problems.push(`${source}: ${name}.${fw.name} does not exist in BTF (fields: ${have.fields.map((x) => x.name).join(', ')})`);
      else if (fh.offset !== fw.offset || fh.size !== fw.size)
        problems.push(`${source}: ${name}.${fw.name} is at offset ${fw.offset} size ${fw.size} in TypeScript but offset ${fh.offset} size ${fh.size} in BTF`);
    }
    for (const fh of have.fields)
      if (!want.fields.some((x) => x.name === fh.name) && !fh.name.startsWith('pad')) problems.push(`${source}: ${name}.${fh.name} (offset ${fh.offset}) is in BTF but TypeScript does not know it`);
  }
  return problems;
}

/**
 * Normalizes another module's layout table: `{struct: {size, fields|members: [{name, offset, size}] | {name: {offset, size}}}}`.
 * Returns undefined for shapes it cannot read, so the caller can say so instead of passing silently.
 */
export function normalizeLayouts(table: unknown): LayoutTable | undefined {
  if (typeof table !== 'object' || table === null) return undefined;
  const out: LayoutTable = {};
  for (const [name, raw] of Object.entries(table as Record<string, unknown>)) {
    if (typeof raw !== 'object' || raw === null) return undefined;
    const r = raw as Record<string, unknown>;
    const size = r['size'];
    const list = r['fields'] ?? r['members'];
    if (typeof size !== 'number' || typeof list !== 'object' || list === null) return undefined;
    const fields: FieldLayout[] = [];
    const entries: [string | undefined, unknown][] = Array.isArray(list) ? list.map((x) => [undefined, x]) : Object.entries(list as Record<string, unknown>);
    for (const [key, fr] of entries) {
      if (typeof fr !== 'object' || fr === null) return undefined;
      const x = fr as Record<string, unknown>;
      const fname = typeof x['name'] === 'string' ? x['name'] : key;
      if (typeof fname !== 'string' || typeof x['offset'] !== 'number' || typeof x['size'] !== 'number') return undefined;
      fields.push({ name: fname, offset: x['offset'], size: x['size'] });
    }
    out[name.replace(/^struct /, '')] = { size, fields };
  }
  return out;
}

export interface LayoutCheck {
  object: string;
  checked: string[];
  problems: string[];
}

/**
 * Checks the datapath's own layouts and, once it exists, the network compiler's `netLayouts`
 * (bpf/abi/net.ts) against the BTF of the compiled endpoint program.
 */
export async function checkLayouts(object = objectPath('endpoint.bpf.o'), projectRoot = join(object, '..', '..', '..')): Promise<LayoutCheck> {
  if (!existsSync(object)) return { object, checked: [], problems: [`${object} is missing: run \`node bpf/build.mjs\` first`] };
  const actual = btfLayouts(object);
  const checked = ['bpf/abi/layouts.ts datapathLayouts'];
  const problems = compareLayouts(datapathLayouts, actual, 'bpf/abi/layouts.ts');
  for (const candidate of ['bpf/abi/net.ts', 'dist/bpf/abi/net.js']) {
    const file = join(projectRoot, candidate);
    if (!existsSync(file)) continue;
    let mod: { netLayouts?: unknown };
    try {
      mod = (await import(pathToFileURL(file).href)) as { netLayouts?: unknown };
    } catch (e) {
      problems.push(`${candidate}: cannot be imported to check its netLayouts (${(e as Error).message.split('\n')[0]})`);
      break;
    }
    if (mod.netLayouts === undefined) {
      problems.push(`${candidate}: exports no netLayouts table to check against BTF`);
    } else {
      const table = normalizeLayouts(mod.netLayouts);
      if (!table) problems.push(`${candidate}: netLayouts has a shape the check cannot read ({struct: {size, fields: [{name, offset, size}]}} expected)`);
      else problems.push(...compareLayouts(table, actual, candidate));
      checked.push(`${candidate} netLayouts`);
    }
    break;
  }
  return { object, checked, problems };
}
