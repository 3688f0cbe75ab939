// The plan's view of the network compiler (compiler/network): compile a revision, list its
// workloads, and answer probes with the reference evaluator. This is the only file of the plan
// that knows the compiler's shapes; everything else speaks Peer / Probe / Decision.
import { diagnostic, fileSpan, type Diagnostic } from '../diagnostics.js';
import type { PolicyDocument } from '../load/index.js';
import type { WorkloadPeer } from './peers.js';
import type { Oracle } from './probe.js';

export interface CompiledRevision {
  oracle?: Oracle;
  workloads: WorkloadPeer[];
  diagnostics: Diagnostic[];
}

export async function compileRevision(docs: PolicyDocument[], inventoryDocs: PolicyDocument[], inventoryFile?: string): Promise<CompiledRevision> {
  void docs;
  void inventoryDocs;
  return { workloads: [], diagnostics: [diagnostic('plan/no-network-compiler', 'error', 'the network compiler (compiler/network) is not available in this build', fileSpan(inventoryFile ?? '.'))] };
}
