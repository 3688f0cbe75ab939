// BPF objects (ELF files from clang -target bpf): open, adjust maps before load, load, find programs and maps.
import { BpfError, check, checkPtr, withLog } from './errors.js';
import { BpfLink, openRawTracepoint, type RawTracepointLink } from './link.js';
import { BpfMap, mapInfo } from './map.js';
import { native, type NativePtr } from './native.js';
import { testRun, type TestRunOptions, type TestRunResult } from './testrun.js';
import { type MapTypeName, mapTypeName, type ProgTypeName, progTypeName } from './types.js';

const registry = new FinalizationRegistry<NativePtr>((obj) => {
  try {
    native().bpf_object__close(obj);
  } catch {
    /* process teardown */
  }
});

export interface OpenOptions {
  /** max_entries overrides by map name, applied before load (e.g. per-endpoint policy capacity). */
  maxEntries?: Record<string, number>;
  /** Existing maps to use instead of creating the object's own (bpf_map__reuse_fd), by map name. */
  reuseMaps?: Record<string, BpfMap>;
  /** Inner-map templates for map-in-map definitions that carry none, by outer map name. */
  innerMaps?: Record<string, BpfMap>;
  /** Load only these programs (others are set not to autoload). */
  programs?: string[];
}

export class BpfObject implements Disposable {
  #obj: NativePtr;
  #loaded = false;
  readonly path: string;

  private constructor(obj: NativePtr, path: string) {
    this.#obj = obj;
    this.path = path;
    registry.register(this, obj, this);
  }

  /** Opens an object file (bpf_object__open); maps and programs can be adjusted until load(). */
  static open(path: string, opts: OpenOptions = {}): BpfObject {
    const ptr = checkPtr(
      `bpf_object__open(${path})`,
      () => native().bpf_object__open(path) as NativePtr,
      (e) => (e === 2 ? 'no such file; run `npm run build` to compile bpf/' : undefined),
    );
    const obj = new BpfObject(ptr, path);
    try {
      for (const [name, n] of Object.entries(opts.maxEntries ?? {})) obj.setMaxEntries(name, n);
      for (const [name, m] of Object.entries(opts.reuseMaps ?? {})) obj.reuseMap(name, m);
      for (const [name, m] of Object.entries(opts.innerMaps ?? {})) obj.setInnerMap(name, m);
      if (opts.programs) {
        const want = new Set(opts.programs);
        for (const p of obj.programs()) p.autoload = want.has(p.name);
        for (const w of want) obj.program(w);
      }
    } catch (e) {
      obj.close();
      throw e;
    }
    return obj;
  }

  /** max_entries of a map, before load(). */
  setMaxEntries(name: string, n: number): void {
    check(`bpf_map__set_max_entries(${name})`, () => native().bpf_map__set_max_entries(this.#rawMap(name), n) as number);
  }

  /** Uses an existing map (e.g. opened from a pin) instead of creating the object's own, before load(). */
  reuseMap(name: string, map: BpfMap): void {
    check(`bpf_map__reuse_fd(${name})`, () => native().bpf_map__reuse_fd(this.#rawMap(name), map.fd) as number);
  }

  /** The inner-map template of a map-in-map definition, before load(). */
  setInnerMap(name: string, map: BpfMap): void {
    check(`bpf_map__set_inner_map_fd(${name})`, () => native().bpf_map__set_inner_map_fd(this.#rawMap(name), map.fd) as number);
  }

  /** A map's shape as the object declares it (readable before load(), e.g. to create it elsewhere). */
  declaredMap(name: string): { type: MapTypeName | `unknown(${number})`; keySize: number; valueSize: number; maxEntries: number } {
    const n = native();
    const m = this.#rawMap(name);
    return {
      type: mapTypeName(n.bpf_map__type(m) as number),
      keySize: n.bpf_map__key_size(m) as number,
      valueSize: n.bpf_map__value_size(m) as number,
      maxEntries: n.bpf_map__max_entries(m) as number,
    };
  }

  /** Loads maps and programs into the kernel; a verifier rejection throws with the log's last lines. */
  load(): this {
    const { value, log } = withLog(() => native().bpf_object__load(this.#ptr()) as number);
    if (value < 0) {
      // libbpf prints the verifier log between "-- BEGIN PROG LOAD LOG --" and "-- END PROG LOAD LOG --".
      const verifier = extractVerifierLog(log);
      throw new BpfError(
        `bpf_object__load(${this.path})`,
        -value,
        verifier.length > 0 ? verifier.slice(-20) : log,
        verifier.length > 0 ? 'the verifier rejected a program (log tail below)' : undefined,
      );
    }
    this.#loaded = true;
    return this;
  }

  get loaded(): boolean {
    return this.#loaded;
  }

  #ptr(): NativePtr {
    if (this.#obj === null) throw new Error(`BpfObject(${this.path}): used after close()`);
    return this.#obj;
  }

  #rawMap(name: string): NativePtr {
    const m = native().bpf_object__find_map_by_name(this.#ptr(), name) as NativePtr;
    if (!m) throw new BpfError(`bpf_object__find_map_by_name(${name})`, 2, [], `${this.path} has maps ${this.mapNames().join(', ')}`);
    return m;
  }

  mapNames(): string[] {
    const out: string[] = [];
    const n = native();
    for (let m = n.bpf_object__next_map(this.#ptr(), null) as NativePtr; m; m = n.bpf_object__next_map(this.#ptr(), m) as NativePtr)
      out.push(n.bpf_map__name(m) as string);
    return out;
  }

  /** A map of the loaded object, borrowed: it is closed with the object. */
  map(name: string): BpfMap {
    const raw = this.#rawMap(name);
    const fd = native().bpf_map__fd(raw) as number;
    if (fd < 0) throw new BpfError(`bpf_map__fd(${name})`, 9, [], 'the object is not loaded yet (call load())');
    return new BpfMap(fd, mapInfo(fd), false);
  }

  maps(): BpfMap[] {
    return this.mapNames().map((n) => this.map(n));
  }

  program(name: string): BpfProgram {
    const p = native().bpf_object__find_program_by_name(this.#ptr(), name) as NativePtr;
    if (!p)
      throw new BpfError(
        `bpf_object__find_program_by_name(${name})`,
        2,
        [],
        `${this.path} has programs ${this.programs()
          .map((x) => x.name)
          .join(', ')}`,
      );
    return new BpfProgram(p, this);
  }

  programs(): BpfProgram[] {
    const out: BpfProgram[] = [];
    const n = native();
    for (let p = n.bpf_object__next_program(this.#ptr(), null) as NativePtr; p; p = n.bpf_object__next_program(this.#ptr(), p) as NativePtr)
      out.push(new BpfProgram(p, this));
    return out;
  }

  /** Closes the object: its maps and programs go away unless pinned, attached or held by other fds. */
  close(): void {
    if (this.#obj === null) return;
    registry.unregister(this);
    native().bpf_object__close(this.#obj);
    this.#obj = null;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

export class BpfProgram {
  readonly #p: NativePtr;
  readonly object: BpfObject;
  readonly name: string;
  readonly section: string;

  constructor(p: NativePtr, object: BpfObject) {
    this.#p = p;
    this.object = object;
    this.name = native().bpf_program__name(p) as string;
    this.section = native().bpf_program__section_name(p) as string;
  }

  get type(): ProgTypeName | `unknown(${number})` {
    return progTypeName(native().bpf_program__type(this.#p) as number);
  }

  get autoload(): boolean {
    return native().bpf_program__autoload(this.#p) as boolean;
  }

  set autoload(v: boolean) {
    check(`bpf_program__set_autoload(${this.name})`, () => native().bpf_program__set_autoload(this.#p, v) as number);
  }

  /** The program fd (borrowed from the object). */
  get fd(): number {
    const fd = native().bpf_program__fd(this.#p) as number;
    if (fd < 0)
      throw new BpfError(`bpf_program__fd(${this.name})`, 9, [], 'the object is not loaded yet, or this program was not autoloaded');
    return fd;
  }

  /** Attaches a tracepoint program to category/name (e.g. `syscalls`, `sys_enter_openat`). */
  attachTracepoint(category: string, name: string): BpfLink {
    const l = checkPtr(
      `bpf_program__attach_tracepoint(${this.name}, ${category}/${name})`,
      () => native().bpf_program__attach_tracepoint(this.#p, category, name) as NativePtr,
    );
    return new BpfLink(l, `${this.name}@tracepoint/${category}/${name}`);
  }

  /** Attaches a raw tracepoint program to a tracepoint with a BPF cookie the program reads (kernel 6.10+). */
  attachRawTracepoint(name: string, cookie = 0n): RawTracepointLink {
    return openRawTracepoint(this.fd, name, cookie);
  }

  /** Attaches a kprobe (or kretprobe) program to a kernel function, with a BPF cookie the program reads. */
  attachKprobe(func: string, opts: { cookie?: bigint; retprobe?: boolean } = {}): BpfLink {
    const n = native();
    const o = { sz: n.sizes.kprobeOpts, bpf_cookie: opts.cookie ?? 0n, offset: 0, retprobe: opts.retprobe ?? false, attach_mode: 0 };
    const l = checkPtr(
      `bpf_program__attach_kprobe_opts(${this.name}, ${func})`,
      () => n.bpf_program__attach_kprobe_opts(this.#p, func, o) as NativePtr,
    );
    return new BpfLink(l, `kprobe/${func}`);
  }

  /**
   * The kernel function (fentry, fexit, fmod_ret) or LSM hook (its name without `bpf_lsm_`) this program attaches
   * to, before load(): libbpf resolves it in vmlinux BTF at load, so a BTF-typed program serves one target.
   */
  setAttachTarget(func: string): void {
    check(
      `bpf_program__set_attach_target(${this.name}, ${func})`,
      () => native().bpf_program__set_attach_target(this.#p, 0, func) as number,
      (e) => (e === 3 || e === 2 ? `no ${func} in the kernel's BTF` : undefined),
    );
  }

  /** Attaches a loaded fentry, fexit or fmod_ret program to the target set before load, with a BPF cookie. */
  attachTrace(opts: { cookie?: bigint } = {}): BpfLink {
    const n = native();
    const l = checkPtr(
      `bpf_program__attach_trace_opts(${this.name})`,
      () => n.bpf_program__attach_trace_opts(this.#p, { sz: n.sizes.traceOpts, cookie: opts.cookie ?? 0n }) as NativePtr,
    );
    return new BpfLink(l, `${this.name}@${this.section}`);
  }

  /**
   * Attaches a loaded BPF LSM program to the hook set before load. With a cookie, through the same libbpf path
   * (link_create on the BTF id) with the cookie in its options, as bpf_program__attach_lsm has no options.
   */
  attachLsm(opts: { cookie?: bigint } = {}): BpfLink {
    if (opts.cookie) return this.attachTrace(opts);
    const l = checkPtr(`bpf_program__attach_lsm(${this.name})`, () => native().bpf_program__attach_lsm(this.#p) as NativePtr);
    return new BpfLink(l, `${this.name}@${this.section}`);
  }

  /** Attaches by the section name's convention (kprobe/..., fentry/..., lsm/..., tracepoint/...). */
  attach(): BpfLink {
    const l = checkPtr(`bpf_program__attach(${this.name}, ${this.section})`, () => native().bpf_program__attach(this.#p) as NativePtr);
    return new BpfLink(l, `${this.name}@${this.section}`);
  }

  /** Pins the loaded program in bpffs (e.g. for `tc filter add ... bpf pinned PATH` or another process). */
  pin(path: string): void {
    check(
      `bpf_obj_pin(${this.name}, ${path})`,
      () => native().bpf_obj_pin(this.fd, path) as number,
      (e) => (e === 17 ? 'something is already pinned at that path' : undefined),
    );
  }

  /** BPF_PROG_TEST_RUN on this program. */
  testRun(opts: TestRunOptions): TestRunResult {
    return testRun(this.fd, opts, this.name);
  }
}

function extractVerifierLog(log: string[]): string[] {
  const text = log.join('');
  const begin = text.indexOf('-- BEGIN PROG LOAD LOG --');
  const end = text.indexOf('-- END PROG LOAD LOG --');
  if (begin < 0) return [];
  const body = text.slice(begin + '-- BEGIN PROG LOAD LOG --'.length, end < 0 ? undefined : end);
  return body.split('\n').filter((l) => l.trim() !== '');
}
