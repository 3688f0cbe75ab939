// What a node's kernel lets weir's runtime programs do. Agents report it (bpf/runtime/node-capabilities.ts probes the
// real node with libbpf-ts); the compiler lowers each hook for each node against it and refuses, with the
// reason, whatever the node cannot do — never a silent downgrade (Tetragon once downgraded hooks silently; users found out in production).

// The record itself is the runtime datapath's (bpf/abi/runtime.ts): the node probe fills it, the lowering reads it.
import type { NodeCapabilities } from '../../../bpf/abi/runtime.js';
export type { NodeCapabilities } from '../../../bpf/abi/runtime.js';

/** Named capability profiles a node can declare with the label `weir.dev/runtime-profile`. */
export const capabilityProfiles: Readonly<Record<string, NodeCapabilities>> = {
  /** Tracepoints only: kprobes load but cannot attach, no fentry, no BPF LSM (the CI machine). */
  'tracepoint-only': {
    tracepoints: true,
    rawSyscalls: true,
    kprobes: true,
    kprobeAttach: false,
    fentry: false,
    lsm: false,
    override: false,
    sendSignal: true,
    ringbuf: true,
    mapInMap: true,
    uprobes: false,
  },
  /** A typical distribution kernel with BTF, kprobes, fentry and BPF LSM enabled. */
  full: {
    tracepoints: true,
    rawSyscalls: true,
    kprobes: true,
    kprobeAttach: true,
    fentry: true,
    lsm: true,
    override: true,
    sendSignal: true,
    ringbuf: true,
    mapInMap: true,
    uprobes: true,
  },
};

export const runtimeProfileLabel = 'weir.dev/runtime-profile';
/** Comma list of capability names that overrides the profile, e.g. `tracepoints,rawSyscalls,sendSignal,ringbuf,mapInMap`. */
export const runtimeCapabilitiesLabel = 'weir.dev/runtime-capabilities';

export const defaultProfile = 'tracepoint-only';

const capabilityKeys = [
  'tracepoints',
  'rawSyscalls',
  'kprobes',
  'kprobeAttach',
  'fentry',
  'lsm',
  'override',
  'sendSignal',
  'ringbuf',
  'mapInMap',
  'uprobes',
] as const;

/** A node's capabilities from its inventory labels; unknown profile names fall back with an explanation. */
export function capabilitiesFromLabels(labels: Readonly<Record<string, string>>): {
  caps: NodeCapabilities;
  profile: string;
  problem?: string;
} {
  const list = labels[runtimeCapabilitiesLabel];
  if (list !== undefined) {
    const names = list
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const bad = names.filter((n) => !(capabilityKeys as readonly string[]).includes(n));
    const caps = Object.fromEntries(capabilityKeys.map((k) => [k, names.includes(k)])) as unknown as NodeCapabilities;
    return {
      caps,
      profile: 'custom',
      ...(bad.length
        ? { problem: `unknown capabilities ${bad.join(', ')} in ${runtimeCapabilitiesLabel}; known: ${capabilityKeys.join(', ')}` }
        : {}),
    };
  }
  const name = labels[runtimeProfileLabel] ?? defaultProfile;
  const caps = capabilityProfiles[name];
  if (!caps)
    return {
      caps: capabilityProfiles[defaultProfile]!,
      profile: defaultProfile,
      problem: `unknown ${runtimeProfileLabel} ${JSON.stringify(name)}; known: ${Object.keys(capabilityProfiles).join(', ')}`,
    };
  return { caps, profile: name };
}

/** One line naming what a node lacks, for diagnostics. */
export function describeMissing(caps: NodeCapabilities): string {
  return capabilityKeys.filter((k) => !caps[k]).join(', ') || 'nothing';
}
