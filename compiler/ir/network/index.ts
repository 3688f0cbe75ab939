/**
 * The network compiler's stable entry point (used by `weir build/test/explain`, the plan and
 * the controller):
 *
 * - `loadInventory(documents)` / `readInventory(paths, opts)`: the inventory from weir Inventory
 *   documents, `kubectl get -A -o yaml` Lists and application manifests (pods from workload
 *   templates are named `ns/name[Kind]`, as np-guard does); readInventory also takes `.json`
 *   files (`kubectl get -A -o json`), parsed as JSON.
 * - `compileNetwork(docs, inventory, opts) → {ir, diagnostics}`: CiliumNetworkPolicy,
 *   CiliumClusterwideNetworkPolicy and NetworkPolicy documents resolved against the inventory's
 *   identities into the IR (compiler/ir/network/types.ts). Never throws for bad input.
 * - `evaluate(ir, flow) → {verdict, audit, l7?, rule?, ...}`: the reference evaluator with
 *   Cilium's semantics. `flow` = {from, to, protocol, port, http?}; peers are
 *   `{workload: 'ns/pod'}`, `{cidr}`, `{ip}`, `{entity}` or `{fqdn, ip}`.
 *
 * Around them: compiler/lower (map images, `netLayouts`), compiler/bundle (assemble, read/write,
 * `buildFromSources`, `NetworkBuilder` for incremental rebuilds, `ImageProducer` for other
 * stages), compiler/verify (emulator, `bundleClasses` for kernel replay, `verifyNetwork`).
 *
 * These signatures are kept stable; additions only.
 */
import type { Diagnostic } from '../../diagnostics.js';
import type { Inventory } from '../../inventory/model.js';
import type { PolicyDocument } from '../../load/index.js';
import { evaluateFlow, type Flow, type FlowVerdict } from './evaluate.js';
import type { NetworkIR } from './types.js';
import { compileNetworkDocs, type CompileOptions } from './compile.js';

export { loadInventory, readInventory, type InventoryResult } from '../../inventory/load.js';
export type { Inventory, Pod, Namespace, Service, Node, CIDRGroup } from '../../inventory/model.js';
export type { NetworkIR, IRRule, IREndpoint, RuleOrigin, L7Rules, PortRange, Direction } from './types.js';
export type { Flow, FlowPeer, FlowVerdict, RuleRef, DirectionVerdict, HttpRequest } from './evaluate.js';
export { evaluateDirection, addressIdentity, protocolNumber, ruleRef } from './evaluate.js';
export type { CompileOptions } from './compile.js';

export function compileNetwork(
  docs: readonly PolicyDocument[],
  inventory: Inventory,
  opts: CompileOptions = {},
): { ir: NetworkIR; diagnostics: Diagnostic[] } {
  return compileNetworkDocs(docs, inventory, opts);
}

export function evaluate(ir: NetworkIR, flow: Flow): FlowVerdict {
  return evaluateFlow(ir, flow);
}
