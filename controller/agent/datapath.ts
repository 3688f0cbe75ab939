// What the agent needs from a datapath: apply a verified bundle atomically, adopt what is
// already in force after a restart, and report counters. Two implementations: the emulated datapath
// (weir's datapath model, no kernel) and the kernel datapath (the BPF programs, maps swapped per slot).
import type { MapImage } from '../../bpf/abi/image.js';
import type { NodeManifest } from '../bundle/codec.js';
import type { ReportedCapabilities } from '../../compiler/lower/runtime/capabilities.js';
import type { ScopeStatus } from './pod-scope.js';

export interface NodeFeatures {
  datapath: 'emulator' | 'kernel';
  kernel?: string;
  btf: boolean;
  mapInMap: boolean;
  lpmTrie: boolean;
  hooks: string[];
  /** The runtime capability probe's result (kernel datapath): the controller compiles this node's runtime policies for it. */
  runtime?: ReportedCapabilities;
}

export interface ApplyInput {
  digest: string;
  revision?: string;
  manifest: NodeManifest;
  /** This node's map images with their bytes, verified against their digests. */
  images: { image: MapImage; bytes: Buffer }[];
  /** Parsed JSON tables (cookies, endpoints, identities, ...). */
  tables: Map<string, unknown>;
}

export interface ApplyReport {
  maps: { name: string; endpoint?: string; entries: number }[];
  timings: { loadMs: number; swapMs: number };
  /** Runtime sites left out because every hook on them says ignore.callNotFound and the kernel lacks the function. */
  skippedSites?: { site: string; reason: string }[];
}

export interface Flow {
  src: string;
  dst: string;
  protocol: 'TCP' | 'UDP' | 'ICMP';
  port: number;
}

export interface Verdict {
  verdict: 'allow' | 'deny';
  /** Where the decision was made: the enforcing endpoint and direction, or none. */
  endpoint?: string;
  direction?: 'ingress' | 'egress';
  reason: 'policy-allow' | 'policy-deny' | 'default-deny' | 'not-enforced';
  /** Audit mode: the datapath lets the flow pass and reports the drop that `reason` names. */
  audit?: boolean;
  cookie?: number;
}

export interface Datapath {
  readonly kind: 'emulator' | 'kernel';
  features(): Promise<NodeFeatures>;
  /** All or nothing: on any error the previous state stays in force and the error is thrown. */
  apply(input: ApplyInput): Promise<ApplyReport>;
  /** Digest of the bundle currently in force (pinned), if any. */
  current(): string | undefined;
  /** Decide a flow as the datapath would (emulator: computed; kernel: BPF_PROG_TEST_RUN). */
  verdict(flow: Flow): Promise<Verdict>;
  /** toFQDNs: map an answered address to a selector identity until the TTL passes. */
  learnFqdn?(ip: string, identity: number, ttlSeconds: number): void;
  /** Drops learned addresses past their TTL. */
  expireFqdn?(now?: number): number;
  /** Pod-scoped runtime policies of the bundle in force and how far their pods are resolved (kernel datapath). */
  runtimeScopes?(): ScopeStatus[];
  close(): Promise<void>;
}
