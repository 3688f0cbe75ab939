// The datapath ABI a bundle is stamped with: the sha256 of the layout header, which agents
// compare with their own so they refuse bundles built for another ABI.
import { readFileSync } from 'node:fs';
import { projectFile } from '../project.js';
import { sha256 } from './assemble.js';
import type { BundleManifest } from './types.js';

/** The ABI of this weir: digest of bpf/include/weir_net.h and its WEIR_NET_ABI_VERSION. Throws when the header cannot be read. */
export function abiInfo(): BundleManifest['abi'] {
  const text = readFileSync(projectFile('bpf/include/weir_net.h'), 'utf8');
  const v = /#define\s+WEIR_NET_ABI_VERSION\s+(\d+)/.exec(text);
  return { digest: sha256(text), version: v ? Number(v[1]) : 1 };
}
