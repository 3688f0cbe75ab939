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

/** Every capability a node has or lacks, in report order. */
export const capabilityKeys = [
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

/** Largest error-injection list an agent reports by name; a longer one is reported by count and digest only. */
export const reportedErrorInjectionMax = 4096;
/** Largest syscall list an agent reports (the syscall table is about 450 entries). */
export const reportedSyscallsMax = 1024;

/**
 * A node's capabilities as its agent reports them in its registration (`features.runtime`, schemas/agent-register):
 * the kernel agent fills it from its probe at start (bpf/runtime/node-capabilities.ts). The error-injection list
 * goes by name up to `reportedErrorInjectionMax` entries and always with its count and digest.
 */
export interface ReportedCapabilities extends Omit<NodeCapabilities, 'syscalls' | 'errorInjection'> {
  syscalls?: string[];
  errorInjection?: { count: number; digest: string; functions?: string[] };
  /** Why each missing capability is missing (libbpf's errno and message), as the probe says. */
  reasons?: Partial<Record<(typeof capabilityKeys)[number], string>>;
}

/** Where the capabilities a node was compiled for came from. */
export type CapabilitySource = { source: 'probe' } | { source: 'label'; profile: string };

/** What the compiler lowers a node for when its agent reported capabilities (they win over the inventory's labels). */
export interface ProbedNodeCapabilities {
  caps: NodeCapabilities;
  reasons: ReportedCapabilities['reasons'];
  /** The node reported an error-injection list too long to send by name: weir's built-in list stands for it. */
  errorInjectionNotListed?: number;
}

/** The registration form of a probe's result: bounded, every field typed. */
export function reportCapabilities(
  caps: NodeCapabilities,
  reasons: Readonly<Record<string, string | undefined>> = {},
  digest: (text: string) => string,
): ReportedCapabilities {
  const r: ReportedCapabilities = Object.fromEntries(capabilityKeys.map((k) => [k, caps[k]])) as unknown as ReportedCapabilities;
  if (caps.syscalls) r.syscalls = caps.syscalls.filter((s) => /^[a-z0-9_]{1,64}$/.test(s)).slice(0, reportedSyscallsMax);
  if (caps.errorInjection) {
    const functions = [...new Set(caps.errorInjection.filter((f) => /^[A-Za-z0-9_.]{1,128}$/.test(f)))].sort();
    r.errorInjection = {
      count: functions.length,
      digest: digest(functions.join('\n')),
      ...(functions.length <= reportedErrorInjectionMax ? { functions } : {}),
    };
  }
  const why = Object.entries(reasons).filter(
    (e): e is [(typeof capabilityKeys)[number], string] => (capabilityKeys as readonly string[]).includes(e[0]) && typeof e[1] === 'string',
  );
  if (why.length) r.reasons = Object.fromEntries(why.map(([k, v]) => [k, v.slice(0, 512)]));
  return r;
}

/** The capabilities the compiler lowers for, from what a node's agent reported. */
export function capabilitiesFromReport(r: ReportedCapabilities): ProbedNodeCapabilities {
  const caps = Object.fromEntries(capabilityKeys.map((k) => [k, r[k] === true])) as unknown as NodeCapabilities;
  if (r.syscalls) caps.syscalls = [...r.syscalls];
  if (r.errorInjection?.functions) caps.errorInjection = [...r.errorInjection.functions];
  return {
    caps,
    reasons: r.reasons,
    ...(r.errorInjection && !r.errorInjection.functions ? { errorInjectionNotListed: r.errorInjection.count } : {}),
  };
}

/** What a node reported missing, each with the probe's reason where it gave one. */
export function describeProbedMissing(p: ProbedNodeCapabilities): string {
  const missing = capabilityKeys.filter((k) => !p.caps[k]);
  if (!missing.length) return 'nothing';
  return missing.map((k) => (p.reasons?.[k] ? `${k} (${p.reasons[k]})` : k)).join(', ');
}
