// ABI check of a runtime map image (bundle manifest entry + blob): the map exists, its key/value
// sizes are those of weir_runtime.h, the blob is whole records, and it fits the map. The agent runs
// it before touching any map (bpf/runtime/loader.ts); `weir verify` can run it on every wrt_* image.
import { emptyRuntimeImages, type RuntimeMapImage } from './runtime.js';

/** The runtime maps by name, with their shapes (records empty). */
export const runtimeMapShapes: ReadonlyMap<string, RuntimeMapImage> = new Map(emptyRuntimeImages.map((s) => [s.name, s]));

export function isRuntimeImage(name: string): boolean {
  return name.startsWith('wrt_');
}

/** Problems with one image, or [] when it is sound. */
export function checkRuntimeImage(
  image: { name: string; keySize: number; valueSize: number; maxEntries?: number },
  byteLength: number,
): string[] {
  const shape = runtimeMapShapes.get(image.name);
  if (!shape) return [`runtime image ${image.name}: no runtime map has that name (known: ${[...runtimeMapShapes.keys()].join(', ')})`];
  const out: string[] = [];
  if (image.keySize !== shape.keySize || image.valueSize !== shape.valueSize)
    out.push(
      `runtime image ${image.name}: key/value sizes ${image.keySize}/${image.valueSize}, weir_runtime.h says ${shape.keySize}/${shape.valueSize}`,
    );
  const rec = shape.keySize + shape.valueSize;
  if (byteLength % rec !== 0) out.push(`runtime image ${image.name}: ${byteLength} bytes is not a whole number of ${rec}-byte records`);
  else if (byteLength / rec > shape.maxEntries)
    out.push(`runtime image ${image.name}: ${byteLength / rec} records exceed the map's ${shape.maxEntries} entries`);
  return out;
}
