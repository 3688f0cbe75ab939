// The ABI digest a bundle is stamped with, so that agents refuse bundles built for another datapath
// ABI: the sha256 of bpf/include/weir_net.h and its WEIR_NET_ABI_VERSION. The compiler reads the
// header from the installation (compiler/bundle/abi-stamp.ts) and hands its text here.
import { createHash } from 'node:crypto';

export interface AbiInfo {
  digest: string;
  version: number;
}

/** The ABI that the text of weir_net.h defines. */
export function abiInfoOf(weirNetH: string): AbiInfo {
  const v = /#define\s+WEIR_NET_ABI_VERSION\s+(\d+)/.exec(weirNetH);
  return { digest: createHash('sha256').update(weirNetH).digest('hex'), version: v ? Number(v[1]) : 1 };
}
