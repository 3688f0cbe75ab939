export * from './types.js';
export {
  assembleBundle,
  bundleFromManifest,
  canonicalJson,
  manifestDigests,
  imageBlob,
  imageRecords,
  sha256,
  type AssembleOptions,
  type Bundle,
  type ImageDraft,
  type ProducerOutput,
  type TableDraft,
} from './assemble.js';
export { abiInfo } from './abi-stamp.js';
export { parseManifest, readBundle, writeBundle, type ReadBundle } from './io.js';
