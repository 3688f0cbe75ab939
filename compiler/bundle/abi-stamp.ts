// The datapath ABI a bundle is stamped with, which agents compare with their own so they refuse
// bundles built for another ABI: bpf/abi/digest.ts over this installation's weir_net.h.
import { readFileSync } from 'node:fs';
import { abiInfoOf, type AbiInfo } from '../../bpf/abi/digest.js';
import { projectFile } from '../project.js';

/** The ABI of this weir. Throws when the header cannot be read. */
export function abiInfo(): AbiInfo {
  return abiInfoOf(readFileSync(projectFile('bpf/include/weir_net.h'), 'utf8'));
}
