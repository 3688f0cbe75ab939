// The koffi bindings to the system libbpf.so.1 (v1.1 ABI): declarations only, no policy.
// Everything else in libbpf-ts goes through these functions; nothing outside this folder imports koffi for BPF.
import koffi, { type LibraryHandle } from 'koffi';

/** An opaque C pointer as koffi hands it back (null when the C side returned NULL). */
export type NativePtr = unknown;

let loaded: ReturnType<typeof bind> | undefined;

/** The bound libbpf, loaded on first use so that importing libbpf-ts on a machine without libbpf does not fail. */
export function native(): ReturnType<typeof bind> {
  loaded ??= bind();
  return loaded;
}

function bind() {
  let lib: LibraryHandle;
  try {
    lib = koffi.load('libbpf.so.1');
  } catch (e) {
    throw new Error(`libbpf-ts: cannot load libbpf.so.1 (${(e as Error).message}); install libbpf1 (Debian: apt-get install libbpf1)`);
  }
  const libc = koffi.load('libc.so.6');

  koffi.opaque('bpf_object');
  koffi.opaque('bpf_program');
  koffi.opaque('bpf_map');
  koffi.opaque('bpf_link');
  koffi.opaque('ring_buffer');
  koffi.opaque('btf');
  koffi.opaque('btf_ext');

  const MapCreateOpts = koffi.struct('bpf_map_create_opts', {
    sz: 'size_t',
    btf_fd: 'uint32_t',
    btf_key_type_id: 'uint32_t',
    btf_value_type_id: 'uint32_t',
    btf_vmlinux_value_type_id: 'uint32_t',
    inner_map_fd: 'uint32_t',
    map_flags: 'uint32_t',
    map_extra: 'uint64_t',
    numa_node: 'uint32_t',
    map_ifindex: 'uint32_t',
  });
  const MapBatchOpts = koffi.struct('bpf_map_batch_opts', { sz: 'size_t', elem_flags: 'uint64_t', flags: 'uint64_t' });
  const TestRunOpts = koffi.struct('bpf_test_run_opts', {
    sz: 'size_t',
    data_in: 'void *',
    data_out: 'void *',
    data_size_in: 'uint32_t',
    data_size_out: 'uint32_t',
    ctx_in: 'void *',
    ctx_out: 'void *',
    ctx_size_in: 'uint32_t',
    ctx_size_out: 'uint32_t',
    retval: 'uint32_t',
    repeat: 'int',
    duration: 'uint32_t',
    flags: 'uint32_t',
    cpu: 'uint32_t',
    batch_size: 'uint32_t',
  });
  const TcHook = koffi.struct('bpf_tc_hook', { sz: 'size_t', ifindex: 'int', attach_point: 'int', parent: 'uint32_t' });
  const TcOpts = koffi.struct('bpf_tc_opts', {
    sz: 'size_t',
    prog_fd: 'int',
    flags: 'uint32_t',
    prog_id: 'uint32_t',
    handle: 'uint32_t',
    priority: 'uint32_t',
  });
  const XdpAttachOpts = koffi.struct('bpf_xdp_attach_opts', { sz: 'size_t', old_prog_fd: 'int' });
  // union bpf_attr for BPF_RAW_TRACEPOINT_OPEN with a cookie (kernel 6.10; libbpf 1.1 cannot pass one).
  const RawTpAttr = koffi.struct('bpf_attr_raw_tp', { name: 'const char *', prog_fd: 'uint32_t', pad: 'uint32_t', cookie: 'uint64_t' });
  const KprobeOpts = koffi.struct('bpf_kprobe_opts', {
    sz: 'size_t',
    bpf_cookie: 'uint64_t',
    offset: 'size_t',
    retprobe: 'bool',
    attach_mode: 'int',
  });
  const TraceOpts = koffi.struct('bpf_trace_opts', { sz: 'size_t', cookie: 'uint64_t' });

  koffi.proto('int weir_libbpf_print_fn(int level, const char *fmt, void *args)');
  koffi.proto('int weir_ring_buffer_sample_fn(void *ctx, void *data, size_t size)');

  const f = {
    sizes: {
      mapCreateOpts: koffi.sizeof(MapCreateOpts),
      mapBatchOpts: koffi.sizeof(MapBatchOpts),
      testRunOpts: koffi.sizeof(TestRunOpts),
      tcHook: koffi.sizeof(TcHook),
      tcOpts: koffi.sizeof(TcOpts),
      xdpAttachOpts: koffi.sizeof(XdpAttachOpts),
      kprobeOpts: koffi.sizeof(KprobeOpts),
      traceOpts: koffi.sizeof(TraceOpts),
      rawTpAttr: koffi.sizeof(RawTpAttr),
    },
    // logging
    libbpf_set_print: lib.func('void *libbpf_set_print(weir_libbpf_print_fn *fn)'),
    vsnprintf: libc.func('int vsnprintf(_Out_ uint8_t *buf, size_t n, const char *fmt, void *ap)'),
    close: libc.func('int close(int fd)'),
    dup: libc.func('int dup(int fd)'),
    // syscall(SYS_bpf, cmd, attr, size) for the one command libbpf 1.1 lacks an option for.
    bpf_raw_tp_open: libc.func('long syscall(long number, int cmd, const bpf_attr_raw_tp *attr, unsigned int size)'),
    if_nametoindex: libc.func('unsigned int if_nametoindex(const char *name)'),
    // objects
    bpf_object__open: lib.func('bpf_object *bpf_object__open(const char *path)'),
    bpf_object__load: lib.func('int bpf_object__load(bpf_object *obj)'),
    bpf_object__close: lib.func('void bpf_object__close(bpf_object *obj)'),
    bpf_object__name: lib.func('const char *bpf_object__name(const bpf_object *obj)'),
    bpf_object__next_program: lib.func('bpf_program *bpf_object__next_program(const bpf_object *obj, bpf_program *prev)'),
    bpf_object__next_map: lib.func('bpf_map *bpf_object__next_map(const bpf_object *obj, const bpf_map *prev)'),
    bpf_object__find_program_by_name: lib.func('bpf_program *bpf_object__find_program_by_name(const bpf_object *obj, const char *name)'),
    bpf_object__find_map_by_name: lib.func('bpf_map *bpf_object__find_map_by_name(const bpf_object *obj, const char *name)'),
    // programs
    bpf_program__name: lib.func('const char *bpf_program__name(const bpf_program *prog)'),
    bpf_program__section_name: lib.func('const char *bpf_program__section_name(const bpf_program *prog)'),
    bpf_program__fd: lib.func('int bpf_program__fd(const bpf_program *prog)'),
    bpf_program__type: lib.func('int bpf_program__type(const bpf_program *prog)'),
    bpf_program__set_autoload: lib.func('int bpf_program__set_autoload(bpf_program *prog, bool autoload)'),
    bpf_program__autoload: lib.func('bool bpf_program__autoload(const bpf_program *prog)'),
    bpf_program__set_log_level: lib.func('int bpf_program__set_log_level(bpf_program *prog, uint32_t level)'),
    bpf_program__set_log_buf: lib.func('int bpf_program__set_log_buf(bpf_program *prog, void *buf, size_t size)'),
    bpf_program__attach: lib.func('bpf_link *bpf_program__attach(const bpf_program *prog)'),
    bpf_program__attach_kprobe_opts: lib.func(
      'bpf_link *bpf_program__attach_kprobe_opts(const bpf_program *prog, const char *func_name, const bpf_kprobe_opts *opts)',
    ),
    bpf_program__set_attach_target: lib.func(
      'int bpf_program__set_attach_target(bpf_program *prog, int attach_prog_fd, const char *attach_func_name)',
    ),
    bpf_program__attach_trace_opts: lib.func(
      'bpf_link *bpf_program__attach_trace_opts(const bpf_program *prog, const bpf_trace_opts *opts)',
    ),
    bpf_program__attach_lsm: lib.func('bpf_link *bpf_program__attach_lsm(const bpf_program *prog)'),
    bpf_program__attach_tracepoint: lib.func(
      'bpf_link *bpf_program__attach_tracepoint(const bpf_program *prog, const char *category, const char *name)',
    ),
    bpf_link__destroy: lib.func('int bpf_link__destroy(bpf_link *link)'),
    bpf_link__fd: lib.func('int bpf_link__fd(const bpf_link *link)'),
    bpf_link__pin: lib.func('int bpf_link__pin(bpf_link *link, const char *path)'),
    // object maps
    bpf_map__name: lib.func('const char *bpf_map__name(const bpf_map *map)'),
    bpf_map__fd: lib.func('int bpf_map__fd(const bpf_map *map)'),
    bpf_map__type: lib.func('int bpf_map__type(const bpf_map *map)'),
    bpf_map__key_size: lib.func('uint32_t bpf_map__key_size(const bpf_map *map)'),
    bpf_map__value_size: lib.func('uint32_t bpf_map__value_size(const bpf_map *map)'),
    bpf_map__max_entries: lib.func('uint32_t bpf_map__max_entries(const bpf_map *map)'),
    bpf_map__set_max_entries: lib.func('int bpf_map__set_max_entries(bpf_map *map, uint32_t max)'),
    bpf_map__reuse_fd: lib.func('int bpf_map__reuse_fd(bpf_map *map, int fd)'),
    bpf_map__set_inner_map_fd: lib.func('int bpf_map__set_inner_map_fd(bpf_map *map, int fd)'),
    bpf_map__set_pin_path: lib.func('int bpf_map__set_pin_path(bpf_map *map, const char *path)'),
    bpf_map__set_autocreate: lib.func('int bpf_map__set_autocreate(bpf_map *map, bool autocreate)'),
    // raw map syscalls
    bpf_map_create: lib.func(
      'int bpf_map_create(int type, const char *name, uint32_t key_size, uint32_t value_size, uint32_t max_entries, const bpf_map_create_opts *opts)',
    ),
    bpf_map_update_elem: lib.func('int bpf_map_update_elem(int fd, const void *key, const void *value, uint64_t flags)'),
    bpf_map_lookup_elem: lib.func('int bpf_map_lookup_elem(int fd, const void *key, void *value)'),
    bpf_map_delete_elem: lib.func('int bpf_map_delete_elem(int fd, const void *key)'),
    bpf_map_get_next_key: lib.func('int bpf_map_get_next_key(int fd, const void *key, void *next_key)'),
    bpf_map_update_batch: lib.func(
      'int bpf_map_update_batch(int fd, const void *keys, const void *values, _Inout_ uint32_t *count, const bpf_map_batch_opts *opts)',
    ),
    bpf_map_lookup_batch: lib.func(
      'int bpf_map_lookup_batch(int fd, void *in_batch, void *out_batch, void *keys, void *values, _Inout_ uint32_t *count, const bpf_map_batch_opts *opts)',
    ),
    bpf_map_delete_batch: lib.func(
      'int bpf_map_delete_batch(int fd, const void *keys, _Inout_ uint32_t *count, const bpf_map_batch_opts *opts)',
    ),
    bpf_obj_pin: lib.func('int bpf_obj_pin(int fd, const char *path)'),
    bpf_obj_get: lib.func('int bpf_obj_get(const char *path)'),
    bpf_obj_get_info_by_fd: lib.func('int bpf_obj_get_info_by_fd(int fd, void *info, _Inout_ uint32_t *info_len)'),
    bpf_map_get_fd_by_id: lib.func('int bpf_map_get_fd_by_id(uint32_t id)'),
    bpf_prog_get_fd_by_id: lib.func('int bpf_prog_get_fd_by_id(uint32_t id)'),
    bpf_prog_test_run_opts: lib.func('int bpf_prog_test_run_opts(int fd, _Inout_ bpf_test_run_opts *opts)'),
    // links
    bpf_tc_hook_create: lib.func('int bpf_tc_hook_create(bpf_tc_hook *hook)'),
    bpf_tc_hook_destroy: lib.func('int bpf_tc_hook_destroy(bpf_tc_hook *hook)'),
    bpf_tc_attach: lib.func('int bpf_tc_attach(const bpf_tc_hook *hook, _Inout_ bpf_tc_opts *opts)'),
    bpf_tc_detach: lib.func('int bpf_tc_detach(const bpf_tc_hook *hook, const bpf_tc_opts *opts)'),
    bpf_tc_query: lib.func('int bpf_tc_query(const bpf_tc_hook *hook, _Inout_ bpf_tc_opts *opts)'),
    bpf_xdp_attach: lib.func('int bpf_xdp_attach(int ifindex, int prog_fd, uint32_t flags, const bpf_xdp_attach_opts *opts)'),
    bpf_xdp_detach: lib.func('int bpf_xdp_detach(int ifindex, uint32_t flags, const bpf_xdp_attach_opts *opts)'),
    // ring buffers
    ring_buffer__new: lib.func('ring_buffer *ring_buffer__new(int map_fd, weir_ring_buffer_sample_fn *cb, void *ctx, void *opts)'),
    ring_buffer__free: lib.func('void ring_buffer__free(ring_buffer *rb)'),
    ring_buffer__consume: lib.func('int ring_buffer__consume(ring_buffer *rb)'),
    ring_buffer__poll: lib.func('int ring_buffer__poll(ring_buffer *rb, int timeout_ms)'),
    ring_buffer__epoll_fd: lib.func('int ring_buffer__epoll_fd(const ring_buffer *rb)'),
    // BTF
    btf__parse: lib.func('btf *btf__parse(const char *path, void *ext)'),
    btf__load_vmlinux_btf: lib.func('btf *btf__load_vmlinux_btf()'),
    btf__free: lib.func('void btf__free(btf *btf)'),
    btf__find_by_name_kind: lib.func('int32_t btf__find_by_name_kind(const btf *btf, const char *name, uint32_t kind)'),
    btf__type_cnt: lib.func('uint32_t btf__type_cnt(const btf *btf)'),
    btf__type_by_id: lib.func('void *btf__type_by_id(const btf *btf, uint32_t id)'),
    btf__name_by_offset: lib.func('const char *btf__name_by_offset(const btf *btf, uint32_t offset)'),
    btf__resolve_size: lib.func('int64_t btf__resolve_size(const btf *btf, uint32_t id)'),
    btf__resolve_type: lib.func('int btf__resolve_type(const btf *btf, uint32_t id)'),
    // probes
    libbpf_probe_bpf_prog_type: lib.func('int libbpf_probe_bpf_prog_type(int prog_type, const void *opts)'),
    libbpf_probe_bpf_map_type: lib.func('int libbpf_probe_bpf_map_type(int map_type, const void *opts)'),
    libbpf_probe_bpf_helper: lib.func('int libbpf_probe_bpf_helper(int prog_type, int helper_id, const void *opts)'),
    libbpf_num_possible_cpus: lib.func('int libbpf_num_possible_cpus()'),
    libbpf_strerror: lib.func('int libbpf_strerror(int err, _Out_ uint8_t *buf, size_t size)'),
  };
  return f;
}

/** Reads `len` bytes at a native address into a fresh Buffer (a copy: the memory belongs to C). */
export function copyOut(ptr: NativePtr, len: number): Buffer {
  if (len === 0) return Buffer.alloc(0);
  return Buffer.from(new Uint8Array(koffi.view(ptr, len)).slice());
}

/** Registers a long-lived C callback; returns the pointer and an unregister function. */
export function registerCallback(fn: (...args: never[]) => unknown, proto: string): { ptr: bigint; unregister: () => void } {
  const ptr = koffi.register(fn, koffi.pointer(proto));
  return { ptr, unregister: () => koffi.unregister(ptr) };
}

/** libuv fd readiness polling (koffi.node.poll): the event loop watches the fd, no thread blocks. */
export function pollFd(fd: number, onReadable: () => void): { stop: () => void; unref: () => void } {
  // koffi 3.3 calls back with (status, events) although its typings declare (events).
  const cb = (status: number, ev?: { readable: boolean }) => {
    if (status === 0 && ev?.readable !== false) onReadable();
  };
  const h = koffi.node.poll(fd, { readable: true }, cb as unknown as (ev: { readable: boolean }) => void);
  return { stop: () => h.close(), unref: () => h.unref() };
}

export function lastErrno(): number {
  return koffi.errno();
}
