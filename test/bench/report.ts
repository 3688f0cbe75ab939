// Shared shape of benchmark figures: every figure sits beside a peer measured in the same run.

export interface Figure {
  metric: string;
  /** null: not measured on this machine; `unmeasured` says why. */
  value: number | null;
  /** Why there is no number (e.g. the attach is missing, citing the capability probe). */
  unmeasured?: string;
  unit: string;
  /** The peer measured in the same run (raw libbpf, bpftool, iptables, ...). */
  peer?: { name: string; value: number };
  /** value / peer.value, or whatever ratio the goal is stated in. */
  ratio?: number;
  /** The goal in words, e.g. ">= 5000 docs/s". */
  goal?: string;
  met?: boolean;
}

export interface BenchReport {
  name: string;
  /** What was measured, in one line, with the sizes used. */
  setup: string;
  figures: Figure[];
  /** Why a figure could not be measured here (e.g. no BPF), if so. */
  skipped?: string;
}

export type Bench = () => Promise<BenchReport>;
