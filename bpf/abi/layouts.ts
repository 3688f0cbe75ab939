// How the datapath ABI states a C struct: its size and each field's offset and size, once per struct
// (net.ts for weir_net.h, runtime.ts for weir_runtime.h), and the accessors that read and write map
// keys, values and ring-buffer records through those tables. No other code in weir reads or writes
// these bytes by offset; check.ts compares every table with the BTF of the compiled objects.

export interface FieldLayout {
  offset: number;
  /** Bytes of the whole field (of all elements, for an array). */
  size: number;
  /** Elements of an array field; each is size / count bytes. */
  count?: number;
  /** Network byte order (the `_be` fields); host order (little-endian) otherwise. */
  be?: boolean;
  /** A signed integer (__s32). */
  signed?: boolean;
}

export interface StructLayout {
  size: number;
  fields: Readonly<Record<string, FieldLayout>>;
}

export type LayoutTable = Readonly<Record<string, StructLayout>>;

/** A field at `offset` of `size` bytes (for an array: `count` elements filling `size`). */
export function field(offset: number, size: number, opts: Omit<FieldLayout, 'offset' | 'size'> = {}): FieldLayout {
  return { offset, size, ...opts };
}

/** A Buffer over the same memory, so Uint8Array records are read without a copy. */
export function bytes(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** Byte offset of element `i` of a field of a struct that starts at `base`. */
export function offsetOf(l: FieldLayout, base = 0, i = 0): number {
  return i === 0 ? base + l.offset : base + l.offset + i * (l.size / (l.count ?? 1));
}

/** An integer field of 1, 2 or 4 bytes (element `i` of an array field). */
export function getInt(b: Buffer, l: FieldLayout, base = 0, i = 0): number {
  const o = offsetOf(l, base, i);
  switch (l.size / (l.count ?? 1)) {
    case 1:
      return l.signed ? b.readInt8(o) : b[o]!;
    case 2:
      return l.be ? b.readUInt16BE(o) : l.signed ? b.readInt16LE(o) : b.readUInt16LE(o);
    case 4:
      return l.be ? b.readUInt32BE(o) : l.signed ? b.readInt32LE(o) : b.readUInt32LE(o);
  }
  throw new Error(`field at offset ${l.offset} is not a 1, 2 or 4 byte integer`);
}

/** Writes an integer field of 1, 2 or 4 bytes (unsigned values wrap as the C store does). */
export function setInt(b: Buffer, l: FieldLayout, v: number, base = 0, i = 0): void {
  const o = offsetOf(l, base, i);
  switch (l.size / (l.count ?? 1)) {
    case 1:
      b[o] = v & 0xff;
      return;
    case 2:
      if (l.be) b.writeUInt16BE(v & 0xffff, o);
      else b.writeUInt16LE(v & 0xffff, o);
      return;
    case 4:
      if (l.signed) b.writeInt32LE(v | 0, o);
      else if (l.be) b.writeUInt32BE(v >>> 0, o);
      else b.writeUInt32LE(v >>> 0, o);
      return;
  }
  throw new Error(`field at offset ${l.offset} is not a 1, 2 or 4 byte integer`);
}

/** A 64-bit field (element `i` of an array field). */
export function getBig(b: Buffer, l: FieldLayout, base = 0, i = 0): bigint {
  const o = offsetOf(l, base, i);
  return l.signed ? b.readBigInt64LE(o) : b.readBigUInt64LE(o);
}

export function setBig(b: Buffer, l: FieldLayout, v: bigint, base = 0, i = 0): void {
  b.writeBigUInt64LE(BigInt.asUintN(64, v), offsetOf(l, base, i));
}

/** The bytes of a field (element `i` of an array field), at most `len` of them; no copy. */
export function getBytes(b: Buffer, l: FieldLayout, base = 0, len?: number, i = 0): Buffer {
  const o = offsetOf(l, base, i);
  const width = l.size / (l.count ?? 1);
  return b.subarray(o, o + (len === undefined ? width : Math.min(len, width)));
}

/** Copies bytes into a field (element `i`), cut to the field's size. */
export function setBytes(b: Buffer, l: FieldLayout, src: Uint8Array, base = 0, i = 0): void {
  const width = l.size / (l.count ?? 1);
  b.set(src.length > width ? src.subarray(0, width) : src, offsetOf(l, base, i));
}

/** `len` bytes of a string field as UTF-8 (cut to the field). */
export function getString(b: Buffer, l: FieldLayout, len: number, base = 0, i = 0): string {
  return getBytes(b, l, base, len, i).toString('utf8');
}

/** A NUL-terminated string field as UTF-8, looking at no more than `max` bytes. */
export function getCString(b: Buffer, l: FieldLayout, max?: number, base = 0, i = 0): string {
  const s = getBytes(b, l, base, max, i);
  const z = s.indexOf(0);
  return s.toString('utf8', 0, z < 0 ? s.length : z);
}

const U32: FieldLayout = { offset: 0, size: 4 };
const U64: FieldLayout = { offset: 0, size: 8 };

/** A __u32 key or value (map slots, ifindexes, switches, generations). */
export function encodeU32(n: number): Buffer {
  const b = Buffer.alloc(4);
  setInt(b, U32, n);
  return b;
}

export function decodeU32(value: Uint8Array): number {
  return getInt(bytes(value), U32);
}

/** A per-CPU value's __u64 counter at `at`, summed over the CPUs' slots of `slot` bytes each. */
export function sumPerCpu(value: Uint8Array, slot: number, at = 0): number {
  const b = bytes(value);
  let sum = 0;
  for (let c = 0; c + slot <= b.length; c += slot) sum += Number(getBig(b, U64, c + at));
  return sum;
}

/** Encoder and decoder of a struct whose fields are integers, each a property of a TypeScript record. */
export interface StructCodec<T> {
  size: number;
  encode(v: T): Buffer;
  /** Writes at `off` of a larger zeroed buffer (whole images are encoded in place); padding is left alone. */
  write(b: Buffer, off: number, v: T): void;
  decode(b: Uint8Array, off?: number): T;
}

/** A codec for `s` that maps each property of T to the C field named in `fields`. */
export function structCodec<T extends { [P in keyof T]: number }>(
  s: StructLayout,
  fields: { readonly [P in keyof T]: string },
): StructCodec<T> {
  const pairs = Object.entries(fields).map(([prop, name]): [string, FieldLayout] => {
    const l = s.fields[name as string];
    if (!l) throw new Error(`no field ${String(name)} in the struct (fields: ${Object.keys(s.fields).join(', ')})`);
    return [prop, l];
  });
  const write = (b: Buffer, off: number, v: T): void => {
    for (const [prop, l] of pairs) setInt(b, l, (v as Record<string, number>)[prop]!, off);
  };
  return {
    size: s.size,
    write,
    encode(v) {
      const b = Buffer.alloc(s.size);
      write(b, 0, v);
      return b;
    },
    decode(u, off = 0) {
      const b = bytes(u);
      const out: Record<string, number> = {};
      for (const [prop, l] of pairs) out[prop] = getInt(b, l, off);
      return out as unknown as T;
    },
  };
}

/** One struct of the compiled objects as BTF describes it (bpf/abi/check.ts reads these). */
export interface BtfStructLayout {
  size: number;
  fields: { name: string; offset: number; size: number }[];
}

/** Differences between what TypeScript states (`claimed`) and the BTF (`actual`), one line each. */
export function compareLayouts(
  claimed: LayoutTable,
  actual: Readonly<Record<string, BtfStructLayout>>,
  source: string,
  header = 'weir_net.h',
): string[] {
  const problems: string[] = [];
  for (const [name, want] of Object.entries(claimed)) {
    const have = actual[name];
    if (!have) {
      problems.push(`${source}: struct ${name} is not in the objects' BTF (renamed or removed in ${header}?)`);
      continue;
    }
    if (want.size !== have.size) problems.push(`${source}: struct ${name} is ${want.size} bytes in TypeScript but ${have.size} in BTF`);
    for (const [fname, fw] of Object.entries(want.fields)) {
      const fh = have.fields.find((x) => x.name === fname);
      if (!fh) problems.push(`${source}: ${name}.${fname} does not exist in BTF (fields: ${have.fields.map((x) => x.name).join(', ')})`);
      else if (fh.offset !== fw.offset || fh.size !== fw.size)
        problems.push(
          `${source}: ${name}.${fname} is at offset ${fw.offset} size ${fw.size} in TypeScript but offset ${fh.offset} size ${fh.size} in BTF`,
        );
    }
    for (const fh of have.fields)
      if (!Object.hasOwn(want.fields, fh.name) && !fh.name.startsWith('pad'))
        problems.push(`${source}: ${name}.${fh.name} (offset ${fh.offset}) is in BTF but TypeScript does not know it`);
  }
  return problems;
}
