// Feature probing: which program and map types load, and which hooks really attach on this node.
import { existsSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpfError } from './errors.js';
import { native } from './native.js';
import { BpfObject } from './object.js';
import { type MapTypeName, mapTypes, type ProgTypeName, progTypes } from './types.js';

export function probeProgType(type: ProgTypeName): boolean {
  return (native().libbpf_probe_bpf_prog_type(progTypes[type], null) as number) === 1;
}

/**
 * Whether kprobe programs may call bpf_override_return here (CONFIG_BPF_KPROBE_OVERRIDE): bpf/probe/hooks.bpf.c's
 * probe_override is loaded alone (its verifier log is short enough to give the reason whole).
 */
export function probeOverride(objectPath = defaultProbeObject): { loads: boolean; error?: string } {
  let obj: BpfObject | undefined;
  try {
    obj = BpfObject.open(objectPath, { programs: ['probe_override'] });
    obj.load();
    return { loads: true };
  } catch (e) {
    return { loads: false, error: describe(e) };
  } finally {
    obj?.close();
  }
}

export function probeMapType(type: MapTypeName): boolean {
  return (native().libbpf_probe_bpf_map_type(mapTypes[type], null) as number) === 1;
}

export type HookKind = 'kprobe' | 'fentry' | 'lsm' | 'tracepoint' | 'raw_tracepoint';

export interface HookSupport {
  hook: HookKind;
  /** The verifier accepted a program of this kind. */
  loads: boolean;
  /** It could also be attached (the hook exists and is enabled). */
  attaches: boolean;
  /** Why not, as `EPERM: ...` from libbpf. */
  error?: string;
}

export interface NodeFeatures {
  kernel: string;
  btf: boolean;
  progTypes: Partial<Record<ProgTypeName, boolean>>;
  mapTypes: Partial<Record<MapTypeName, boolean>>;
  hooks: HookSupport[];
}

/** bpf/build/hooks.bpf.o, also when running from dist/ (WEIR_BPF_OBJECTS overrides the directory). */
export const defaultProbeObject = ((): string => {
  const env = process.env['WEIR_BPF_OBJECTS'];
  if (env) return join(env, 'hooks.bpf.o');
  const beside = fileURLToPath(new URL('../build/hooks.bpf.o', import.meta.url));
  const fromDist = fileURLToPath(new URL('../../../bpf/build/hooks.bpf.o', import.meta.url));
  return existsSync(beside) || !existsSync(fromDist) ? beside : fromDist;
})();

/** Loads each program of bpf/probe/hooks.bpf.c alone and attaches it for a moment. */
export function probeHooks(objectPath = defaultProbeObject): HookSupport[] {
  const hooks: HookKind[] = ['kprobe', 'fentry', 'lsm', 'tracepoint', 'raw_tracepoint'];
  return hooks.map((hook) => {
    let obj: BpfObject | undefined;
    try {
      obj = BpfObject.open(objectPath, { programs: [`probe_${hook}`] });
      obj.load();
    } catch (e) {
      obj?.close();
      return { hook, loads: false, attaches: false, error: describe(e) };
    }
    try {
      obj.program(`probe_${hook}`).attach().close();
      return { hook, loads: true, attaches: true };
    } catch (e) {
      return { hook, loads: true, attaches: false, error: describe(e) };
    } finally {
      obj.close();
    }
  });
}

export function probeFeatures(objectPath = defaultProbeObject): NodeFeatures {
  const pt: Partial<Record<ProgTypeName, boolean>> = {};
  for (const t of ['sched_cls', 'xdp', 'kprobe', 'tracepoint', 'raw_tracepoint', 'tracing', 'lsm', 'cgroup_skb'] as const)
    pt[t] = probeProgType(t);
  const mt: Partial<Record<MapTypeName, boolean>> = {};
  for (const t of ['hash', 'array', 'lpm_trie', 'hash_of_maps', 'array_of_maps', 'ringbuf', 'lru_hash', 'percpu_array'] as const)
    mt[t] = probeMapType(t);
  return {
    kernel: release(),
    btf: existsSync('/sys/kernel/btf/vmlinux'),
    progTypes: pt,
    mapTypes: mt,
    hooks: existsSync(objectPath) ? probeHooks(objectPath) : [],
  };
}

function describe(e: unknown): string {
  if (e instanceof BpfError)
    return `${e.code}: ${
      e.log
        .slice(-2)
        .map((l) => l.trim())
        .join(' / ') || e.op
    }`;
  return (e as Error).message;
}
