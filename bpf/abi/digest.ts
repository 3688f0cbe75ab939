// The ABI digest: sha256 of bpf/include/weir_net.h and its WEIR_NET_ABI_VERSION. The compiler records
// it in every bundle's manifest and the agent refuses a bundle built for another datapath ABI.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** bpf/include/<name>, also when running from dist/bpf/abi (the headers stay in the source tree). */
export function headerPath(name: string): string {
  const beside = fileURLToPath(new URL(`../include/${name}`, import.meta.url));
  const fromDist = fileURLToPath(new URL(`../../../bpf/include/${name}`, import.meta.url));
  return existsSync(beside) || !existsSync(fromDist) ? beside : fromDist;
}

export interface AbiInfo {
  digest: string;
  version: number;
}

let cached: AbiInfo | undefined;

/** The network datapath ABI this weir speaks. */
export function abiInfo(): AbiInfo {
  if (cached) return cached;
  const text = readFileSync(headerPath('weir_net.h'), 'utf8');
  const v = /#define\s+WEIR_NET_ABI_VERSION\s+(\d+)/.exec(text);
  return (cached = { digest: createHash('sha256').update(text).digest('hex'), version: v ? Number(v[1]) : 1 });
}

export function abiDigest(): string {
  return abiInfo().digest;
}
