// The runtime compiler as a library: documents → IR (compiler/ir/runtime) → per-node lowering → map images.
import type { Diagnostic } from '../../diagnostics.js';
import type { PolicyDocument } from '../../load/document.js';
import type { NodeCapabilities } from './capabilities.js';
import { encodeRuntimeNode, type RuntimeMapImage } from '../../../bpf/abi/runtime.js';
import { buildRuntimeIR, type RuntimeIR } from '../../ir/runtime/compile.js';
import { lowerRuntime, type LoweredRuntimeNode, type LowerOptions } from './hooks.js';

export interface RuntimeNodeResult {
  node: string;
  lowered: LoweredRuntimeNode;
  images: RuntimeMapImage[];
  diagnostics: Diagnostic[];
}

export interface RuntimeCompileResult {
  ir: RuntimeIR;
  /** IR diagnostics (independent of nodes). */
  diagnostics: Diagnostic[];
  nodes: RuntimeNodeResult[];
}

export function compileRuntime(
  documents: readonly PolicyDocument[],
  nodes: readonly { name: string; caps: NodeCapabilities }[],
  opts: LowerOptions = {},
): RuntimeCompileResult {
  const { ir, diagnostics } = buildRuntimeIR(documents);
  const results = nodes.map(({ name, caps }) => {
    const { lowered, diagnostics: d } = lowerRuntime(ir, name, caps, opts);
    return { node: name, lowered, images: encodeRuntimeNode(lowered), diagnostics: d };
  });
  return { ir, diagnostics, nodes: results };
}

export { buildRuntimeIR, lowerRuntime, encodeRuntimeNode };
export type { NodeCapabilities } from './capabilities.js';
