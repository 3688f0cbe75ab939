export * from './types.js';
export { assembleBundle, canonicalJson, imageBlob, imageRecords, sha256, type AssembleOptions, type Bundle, type ImageDraft, type ProducerOutput, type TableDraft } from './assemble.js';
export { readBundle, writeBundle, type ReadBundle } from './io.js';
