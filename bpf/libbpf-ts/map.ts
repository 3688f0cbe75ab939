// BPF maps by file descriptor: create, open pinned, CRUD, batch, iterate, pin, and map-in-map slots.
import { readFileSync, unlinkSync } from 'node:fs';
import { BpfError, check } from './errors.js';
import { FdOwner } from './fd.js';
import { native } from './native.js';
import { BPF_ANY, type MapTypeName, mapTypeName, mapTypes } from './types.js';

export interface MapSpec {
  type: MapTypeName;
  /** Up to 15 characters (the kernel truncates); shows in bpftool. */
  name?: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  /** BPF_F_* creation flags; LPM tries need BPF_F_NO_PREALLOC, which is added for them automatically. */
  flags?: number;
  /** For array_of_maps / hash_of_maps: a map with the inner maps' shape (only its fd is used, at creation). */
  innerMap?: BpfMap;
  mapExtra?: bigint;
}

export interface MapInfo {
  type: MapTypeName | `unknown(${number})`;
  id: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  name: string;
}

export type Key = Uint8Array | number;

/** A u32 in host byte order, the key of array maps and the value of map-in-map updates. */
export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}

const ENOENT = 2;

let possibleCpus: number | undefined;
/** Number of possible CPUs: per-CPU maps read and write one value slot per possible CPU. */
export function numPossibleCpus(): number {
  possibleCpus ??= check('libbpf_num_possible_cpus', () => native().libbpf_num_possible_cpus() as number);
  return possibleCpus;
}

const perCpuTypes = new Set(['percpu_hash', 'percpu_array', 'lru_percpu_hash']);

export class BpfMap extends FdOwner {
  readonly name: string;
  readonly type: MapTypeName | `unknown(${number})`;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  readonly id: number;

  /** Wraps an fd; `owned` maps close it on close(), borrowed ones (from a BpfObject) leave that to the object. */
  constructor(fd: number, info: MapInfo, owned: boolean) {
    super(fd, owned);
    this.name = info.name;
    this.type = info.type;
    this.keySize = info.keySize;
    this.valueSize = info.valueSize;
    this.maxEntries = info.maxEntries;
    this.flags = info.flags;
    this.id = info.id;
  }

  protected describe(): string {
    return `map ${this.name || `#${this.id}`}`;
  }

  /** True for per-CPU maps, whose values from user space are one 8-byte-aligned slot per possible CPU. */
  get perCpu(): boolean {
    return perCpuTypes.has(this.type);
  }

  /** Bytes of one value as user space reads and writes it (valueSize, or per CPU: roundup(valueSize, 8) * CPUs). */
  get userValueSize(): number {
    return this.perCpu ? Math.ceil(this.valueSize / 8) * 8 * numPossibleCpus() : this.valueSize;
  }

  /** Creates a map (bpf_map_create). The new map is owned: close() releases it unless pinned or used by a program. */
  static create(spec: MapSpec): BpfMap {
    const n = native();
    let flags = spec.flags ?? 0;
    if (spec.type === 'lpm_trie') flags |= 1; // BPF_F_NO_PREALLOC is mandatory for LPM tries
    const opts = {
      sz: n.sizes.mapCreateOpts,
      btf_fd: 0,
      btf_key_type_id: 0,
      btf_value_type_id: 0,
      btf_vmlinux_value_type_id: 0,
      inner_map_fd: spec.innerMap ? spec.innerMap.fd : 0,
      map_flags: flags,
      map_extra: spec.mapExtra ?? 0n,
      numa_node: 0,
      map_ifindex: 0,
    };
    const name = (spec.name ?? '').slice(0, 15);
    const fd = check(
      `bpf_map_create(${name || spec.type}, ${spec.type}, key ${spec.keySize}, value ${spec.valueSize}, max ${spec.maxEntries})`,
      () => n.bpf_map_create(mapTypes[spec.type], name || null, spec.keySize, spec.valueSize, spec.maxEntries, opts) as number,
    );
    return BpfMap.fromFd(fd, true);
  }

  /** Opens a map pinned in bpffs (bpf_obj_get). */
  static openPinned(path: string): BpfMap {
    const fd = check(
      `bpf_obj_get(${path})`,
      () => native().bpf_obj_get(path) as number,
      (e) => (e === ENOENT ? 'nothing is pinned there' : undefined),
    );
    // A pinned program or link answers BPF_OBJ_GET_INFO_BY_FD too; fdinfo says what the fd really is.
    let fdinfo = '';
    try {
      fdinfo = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
    } catch {
      /* no procfs: trust the info below */
    }
    if (fdinfo !== '' && !/^map_type:/m.test(fdinfo)) {
      native().close(fd);
      throw new BpfError(
        `bpf_obj_get(${path})`,
        22,
        [],
        'the pinned object is not a map (a program or link?); remove it or choose another path',
      );
    }
    try {
      return BpfMap.fromFd(fd, true);
    } catch (e) {
      native().close(fd);
      throw new BpfError(`bpf_obj_get(${path})`, 22, [], `the pinned object is not a map (${(e as Error).message})`);
    }
  }

  /** Opens a map by kernel id (e.g. the inner map a map-in-map slot holds). */
  static fromId(id: number): BpfMap {
    const fd = check(`bpf_map_get_fd_by_id(${id})`, () => native().bpf_map_get_fd_by_id(id) as number);
    return BpfMap.fromFd(fd, true);
  }

  static fromFd(fd: number, owned: boolean): BpfMap {
    return new BpfMap(fd, mapInfo(fd), owned);
  }

  #key(key: Key): Uint8Array {
    const k = typeof key === 'number' ? u32(key) : key;
    if (k.length !== this.keySize)
      throw new BpfError(`${this.describe()}: key`, 22, [], `key is ${k.length} bytes, the map's key size is ${this.keySize}`);
    return k;
  }

  #value(value: Uint8Array): Uint8Array {
    if (value.length !== this.userValueSize)
      throw new BpfError(
        `${this.describe()}: value`,
        22,
        [],
        `value is ${value.length} bytes, the map's value size is ${this.userValueSize}${this.perCpu ? ' (per CPU)' : ''}`,
      );
    return value;
  }

  /** The value at key, or undefined when absent. */
  lookup(key: Key): Buffer | undefined {
    const out = Buffer.alloc(this.userValueSize);
    const k = this.#key(key);
    const r = native().bpf_map_lookup_elem(this.fd, k, out) as number;
    if (r === -ENOENT) return undefined;
    if (r < 0) throw new BpfError(`bpf_map_lookup_elem(${this.name})`, -r);
    return out;
  }

  update(key: Key, value: Uint8Array, flags: number = BPF_ANY): void {
    const k = this.#key(key);
    const v = this.#value(value);
    check(
      `bpf_map_update_elem(${this.name})`,
      () => native().bpf_map_update_elem(this.fd, k, v, BigInt(flags)) as number,
      capacityHint(this),
    );
  }

  /** Deletes key; false when it was not there. */
  delete(key: Key): boolean {
    const k = this.#key(key);
    const r = native().bpf_map_delete_elem(this.fd, k) as number;
    if (r === -ENOENT) return false;
    if (r < 0) throw new BpfError(`bpf_map_delete_elem(${this.name})`, -r);
    return true;
  }

  /** Iterates keys with bpf_map_get_next_key (a snapshot is not guaranteed while the map changes). */
  *keys(): Generator<Buffer> {
    let prev: Buffer | null = null;
    for (;;) {
      const next = Buffer.alloc(this.keySize);
      const r = native().bpf_map_get_next_key(this.fd, prev, next) as number;
      if (r === -ENOENT) return;
      if (r < 0) throw new BpfError(`bpf_map_get_next_key(${this.name})`, -r);
      yield next;
      prev = next;
    }
  }

  *entries(): Generator<[Buffer, Buffer]> {
    for (const k of this.keys()) {
      const v = this.lookup(k);
      if (v) yield [k, v];
    }
  }

  /**
   * bpf_map_update_batch over packed keys and values (count = keys.length / keySize), in one syscall.
   * Returns the number of elements written; on failure the BpfError says how many were processed.
   */
  updateBatch(keys: Uint8Array, values: Uint8Array, elemFlags: number = BPF_ANY): number {
    const count = keys.length / this.keySize;
    if (!Number.isInteger(count) || values.length !== count * this.userValueSize)
      throw new BpfError(
        `bpf_map_update_batch(${this.name})`,
        22,
        [],
        `${keys.length} key bytes and ${values.length} value bytes do not make whole ${this.keySize}+${this.userValueSize} byte records`,
      );
    if (count === 0) return 0;
    const n = native();
    const inout = [count];
    const opts = { sz: n.sizes.mapBatchOpts, elem_flags: BigInt(elemFlags), flags: 0n };
    const r = n.bpf_map_update_batch(this.fd, keys, values, inout, opts) as number;
    if (r < 0)
      throw new BpfError(
        `bpf_map_update_batch(${this.name}, ${count} elements)`,
        -r,
        [],
        `${inout[0]} of ${count} written${capacityHint(this)(-r) ? '; ' + capacityHint(this)(-r) : ''}`,
      );
    return inout[0] ?? count;
  }

  /** Batch-updates from an image: sorted key‖value records, as the bundle stores them. */
  updateRecords(records: Uint8Array, elemFlags: number = BPF_ANY): number {
    const { keys, values } = splitRecords(records, this.keySize, this.valueSize, this.name);
    return this.updateBatch(keys, values, elemFlags);
  }

  /** Reads the whole map with bpf_map_lookup_batch, `chunk` elements per syscall. */
  lookupBatch(chunk = 4096): { keys: Buffer; values: Buffer; count: number } {
    const n = native();
    const keyParts: Buffer[] = [];
    const valueParts: Buffer[] = [];
    let total = 0;
    const tokenSize = Math.max(this.keySize, 8);
    let inBatch: Buffer | null = null;
    const outBatch = Buffer.alloc(tokenSize);
    const opts = { sz: n.sizes.mapBatchOpts, elem_flags: 0n, flags: 0n };
    for (;;) {
      const keys = Buffer.alloc(chunk * this.keySize);
      const values = Buffer.alloc(chunk * this.userValueSize);
      const inout = [chunk];
      const r = n.bpf_map_lookup_batch(this.fd, inBatch, outBatch, keys, values, inout, opts) as number;
      const got = inout[0] ?? 0;
      if (r < 0 && r !== -ENOENT) throw new BpfError(`bpf_map_lookup_batch(${this.name})`, -r);
      keyParts.push(keys.subarray(0, got * this.keySize));
      valueParts.push(values.subarray(0, got * this.userValueSize));
      total += got;
      if (r === -ENOENT) break;
      inBatch = Buffer.from(outBatch);
    }
    return { keys: Buffer.concat(keyParts), values: Buffer.concat(valueParts), count: total };
  }

  /** bpf_map_delete_batch over packed keys; returns how many were deleted. */
  deleteBatch(keys: Uint8Array): number {
    const count = keys.length / this.keySize;
    if (!Number.isInteger(count))
      throw new BpfError(`bpf_map_delete_batch(${this.name})`, 22, [], `${keys.length} bytes are not whole ${this.keySize}-byte keys`);
    if (count === 0) return 0;
    const n = native();
    const inout = [count];
    const r = n.bpf_map_delete_batch(this.fd, keys, inout, { sz: n.sizes.mapBatchOpts, elem_flags: 0n, flags: 0n }) as number;
    if (r < 0) throw new BpfError(`bpf_map_delete_batch(${this.name}, ${count} keys)`, -r, [], `${inout[0]} deleted`);
    return inout[0] ?? count;
  }

  /** Pins the map at a bpffs path (bpf_obj_pin); EEXIST when something is already pinned there. */
  pin(path: string): void {
    check(
      `bpf_obj_pin(${this.name}, ${path})`,
      () => native().bpf_obj_pin(this.fd, path) as number,
      (e) => (e === 17 ? 'something is already pinned at that path; unpin it or open it with BpfMap.openPinned' : undefined),
    );
  }

  /** Removes a pin (unlink); the map lives on while fds or programs hold it. */
  static unpin(path: string): void {
    unlinkSync(path);
  }

  /**
   * Map-in-map slot replace: points slot `key` of this outer map at `inner` in one syscall,
   * so a program sees the old inner map or the new one, never a mix.
   */
  setInner(key: Key, inner: BpfMap): void {
    if (this.type !== 'array_of_maps' && this.type !== 'hash_of_maps')
      throw new BpfError(`${this.describe()}: setInner`, 22, [], `a ${this.type} map has no inner-map slots`);
    this.update(key, u32(inner.fd));
  }

  /** The kernel id of the inner map in slot `key`, or undefined when the slot is empty. */
  innerId(key: Key): number | undefined {
    const v = this.lookup(key);
    return v ? v.readUInt32LE(0) : undefined;
  }

  /** Opens the inner map in slot `key` (an owned handle), or undefined when the slot is empty. */
  openInner(key: Key): BpfMap | undefined {
    const id = this.innerId(key);
    return id === undefined ? undefined : BpfMap.fromId(id);
  }

  info(): MapInfo {
    return mapInfo(this.fd);
  }
}

function capacityHint(m: BpfMap): (errno: number) => string | undefined {
  return (e) => (e === 7 || e === 28 ? `map ${m.name} is full (max_entries ${m.maxEntries})` : undefined);
}

export function splitRecords(
  records: Uint8Array,
  keySize: number,
  valueSize: number,
  what = 'image',
): { keys: Buffer; values: Buffer; count: number } {
  const rec = keySize + valueSize;
  if (records.length % rec !== 0)
    throw new BpfError(
      `${what}: records`,
      22,
      [],
      `${records.length} bytes are not whole ${keySize}+${valueSize} byte records (truncated by ${records.length % rec} bytes?)`,
    );
  const count = records.length / rec;
  const keys = Buffer.alloc(count * keySize);
  const values = Buffer.alloc(count * valueSize);
  if (keySize % 4 === 0 && valueSize % 4 === 0 && records.byteOffset % 4 === 0) {
    // Word copies in one tight loop: a per-record Buffer.copy costs more than the batch syscall itself.
    const src = new Uint32Array(records.buffer, records.byteOffset, records.length / 4);
    const k = new Uint32Array(keys.buffer, keys.byteOffset, keys.length / 4);
    const v = new Uint32Array(values.buffer, values.byteOffset, values.length / 4);
    const kw = keySize / 4,
      vw = valueSize / 4;
    for (let i = 0, s = 0, ko = 0, vo = 0; i < count; i++) {
      for (let j = 0; j < kw; j++) k[ko++] = src[s++]!;
      for (let j = 0; j < vw; j++) v[vo++] = src[s++]!;
    }
    return { keys, values, count };
  }
  const src = Buffer.from(records.buffer, records.byteOffset, records.length);
  for (let i = 0; i < count; i++) {
    src.copy(keys, i * keySize, i * rec, i * rec + keySize);
    src.copy(values, i * valueSize, i * rec + keySize, (i + 1) * rec);
  }
  return { keys, values, count };
}

/** bpf_map_info via BPF_OBJ_GET_INFO_BY_FD; offsets from uapi struct bpf_map_info. */
export function mapInfo(fd: number): MapInfo {
  const buf = Buffer.alloc(96);
  const len = [buf.length];
  check(`bpf_obj_get_info_by_fd(map fd ${fd})`, () => native().bpf_obj_get_info_by_fd(fd, buf, len) as number);
  const nameEnd = buf.indexOf(0, 24);
  return {
    type: mapTypeName(buf.readUInt32LE(0)),
    id: buf.readUInt32LE(4),
    keySize: buf.readUInt32LE(8),
    valueSize: buf.readUInt32LE(12),
    maxEntries: buf.readUInt32LE(16),
    flags: buf.readUInt32LE(20),
    name: buf.subarray(24, nameEnd < 0 || nameEnd > 40 ? 40 : nameEnd).toString(),
  };
}
