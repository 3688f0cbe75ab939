// The contract between compiler/build.ts and the stages that contribute map images to a bundle
// (the network lowering, the runtime compiler): what a stage sees and what it returns.
import type { ProducerOutput } from './bundle/assemble.js';
import type { Diagnostic } from './diagnostics.js';
import type { Inventory } from './inventory/model.js';
import type { NetworkIR } from './ir/network/types.js';
import type { PolicyDocument } from './load/index.js';
import type { LoweredNetwork } from './lower/network/images.js';
import type { ProbedNodeCapabilities } from './lower/runtime/capabilities.js';

export interface BuildContext {
  documents: readonly PolicyDocument[];
  inventory: Inventory;
  /** Every node of the inventory, sorted. */
  nodes: string[];
  commit?: string;
  network: { ir: NetworkIR; lowered: LoweredNetwork };
  /** Capabilities the nodes' agents probed and reported, by node: they win over the inventory's labels. */
  nodeCapabilities?: Readonly<Record<string, ProbedNodeCapabilities>>;
  /** Nodes the controller holds on their last bundle: no runtime images are lowered for them (this bundle is never theirs). */
  heldNodes?: readonly string[];
}

/** A stage that contributes map images per node and tables to the bundle. */
export interface ImageProducer {
  name: string;
  produce(
    ctx: BuildContext,
  ): Promise<{ output: ProducerOutput; diagnostics: Diagnostic[] }> | { output: ProducerOutput; diagnostics: Diagnostic[] };
}
