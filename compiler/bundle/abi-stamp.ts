// The datapath ABI a bundle is stamped with, which agents compare with their own so they refuse
// bundles built for another ABI. The ABI computes it (bpf/abi/digest.ts: weir_net.h and its version).
export { abiInfo } from '../../bpf/abi/digest.js';
