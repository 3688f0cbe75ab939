// BTF reading: struct layouts (members, offsets, sizes) from an object file's .BTF or the kernel's vmlinux BTF.
import { BpfError, checkPtr } from './errors.js';
import { copyOut, native, type NativePtr } from './native.js';

export const BTF_KIND = {
  int: 1,
  ptr: 2,
  array: 3,
  struct: 4,
  union: 5,
  enum: 6,
  fwd: 7,
  typedef: 8,
  volatile: 9,
  const: 10,
  restrict: 11,
  func: 12,
  func_proto: 13,
  var: 14,
  datasec: 15,
  float: 16,
  decl_tag: 17,
  type_tag: 18,
  enum64: 19,
} as const;
export type BtfKindName = keyof typeof BTF_KIND;

export interface BtfMember {
  name: string;
  /** Byte offset in the struct (bit offset / 8). */
  offset: number;
  bitOffset: number;
  /** 0 unless a bitfield. */
  bitfieldSize: number;
  /** Resolved size in bytes. */
  size: number;
  /** C spelling of the member type, e.g. `__u32`, `__u8[16]`. */
  type: string;
}

export interface BtfStruct {
  name: string;
  kind: 'struct' | 'union';
  size: number;
  members: BtfMember[];
}

interface RawType {
  nameOff: number;
  kind: number;
  vlen: number;
  kflag: boolean;
  sizeOrType: number;
  ptr: NativePtr;
}

export class Btf implements Disposable {
  #btf: NativePtr;
  readonly source: string;

  private constructor(btf: NativePtr, source: string) {
    this.#btf = btf;
    this.source = source;
  }

  /** Parses the BTF of an ELF object (or a raw BTF file). */
  static parse(path: string): Btf {
    return new Btf(
      checkPtr(
        `btf__parse(${path})`,
        () => native().btf__parse(path, null) as NativePtr,
        (e) => (e === 2 ? 'no such file, or no .BTF section (compile with clang -g)' : undefined),
      ),
      path,
    );
  }

  /** The running kernel's BTF (/sys/kernel/btf/vmlinux). */
  static vmlinux(): Btf {
    return new Btf(
      checkPtr('btf__load_vmlinux_btf', () => native().btf__load_vmlinux_btf() as NativePtr),
      'vmlinux',
    );
  }

  #ptr(): NativePtr {
    if (this.#btf === null) throw new Error(`BTF of ${this.source}: used after close()`);
    return this.#btf;
  }

  get typeCount(): number {
    return native().btf__type_cnt(this.#ptr()) as number;
  }

  /** Type id of a named type of the given kind, or undefined. */
  find(name: string, kind: BtfKindName): number | undefined {
    const id = native().btf__find_by_name_kind(this.#ptr(), name, BTF_KIND[kind]) as number;
    return id < 0 ? undefined : id;
  }

  #raw(id: number): RawType {
    const p = native().btf__type_by_id(this.#ptr(), id) as NativePtr;
    if (!p) throw new BpfError(`btf__type_by_id(${id})`, 22, [], `${this.source} has no type ${id}`);
    const h = copyOut(p, 12);
    const info = h.readUInt32LE(4);
    return {
      nameOff: h.readUInt32LE(0),
      kind: (info >>> 24) & 0x1f,
      vlen: info & 0xffff,
      kflag: info >>> 31 === 1,
      sizeOrType: h.readUInt32LE(8),
      ptr: p,
    };
  }

  #name(off: number): string {
    return (native().btf__name_by_offset(this.#ptr(), off) as string | null) ?? '';
  }

  /** C spelling of a type: typedef and base names kept, arrays as `elem[n]`, pointers as `T *`. */
  typeName(id: number): string {
    if (id === 0) return 'void';
    const t = this.#raw(id);
    switch (t.kind) {
      case BTF_KIND.array: {
        const a = copyOut(t.ptr, 24);
        return `${this.typeName(a.readUInt32LE(12))}[${a.readUInt32LE(20)}]`;
      }
      case BTF_KIND.ptr:
        return `${this.typeName(t.sizeOrType)} *`;
      case BTF_KIND.const:
      case BTF_KIND.volatile:
      case BTF_KIND.restrict:
      case BTF_KIND.type_tag:
        return this.typeName(t.sizeOrType);
      case BTF_KIND.struct:
        return `struct ${this.#name(t.nameOff)}`;
      case BTF_KIND.union:
        return `union ${this.#name(t.nameOff)}`;
      case BTF_KIND.enum:
      case BTF_KIND.enum64:
        return `enum ${this.#name(t.nameOff)}`;
      default:
        return this.#name(t.nameOff);
    }
  }

  sizeOf(id: number): number {
    const s = native().btf__resolve_size(this.#ptr(), id) as number | bigint;
    if (Number(s) < 0) throw new BpfError(`btf__resolve_size(${id})`, -Number(s));
    return Number(s);
  }

  /** The layout of `struct name` (or union), or undefined when the BTF has no such type. */
  struct(name: string): BtfStruct | undefined {
    let id = this.find(name, 'struct');
    let kind: 'struct' | 'union' = 'struct';
    if (id === undefined) {
      id = this.find(name, 'union');
      kind = 'union';
    }
    if (id === undefined) return undefined;
    const t = this.#raw(id);
    const body = copyOut(t.ptr, 12 + 12 * t.vlen);
    const members: BtfMember[] = [];
    for (let i = 0; i < t.vlen; i++) {
      const at = 12 + 12 * i;
      const type = body.readUInt32LE(at + 4);
      const off = body.readUInt32LE(at + 8);
      const bitOffset = t.kflag ? off & 0xffffff : off;
      const bitfieldSize = t.kflag ? off >>> 24 : 0;
      members.push({
        name: this.#name(body.readUInt32LE(at)),
        offset: Math.floor(bitOffset / 8),
        bitOffset,
        bitfieldSize,
        size: this.sizeOf(type),
        type: this.typeName(type),
      });
    }
    return { name, kind, size: t.sizeOrType, members };
  }

  close(): void {
    if (this.#btf === null) return;
    native().btf__free(this.#btf);
    this.#btf = null;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
