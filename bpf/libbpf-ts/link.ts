// Attachments: libbpf links (tracepoints, generic attach), tc clsact filters and XDP on an interface.
import { BpfError, check } from './errors.js';
import { FdOwner } from './fd.js';
import { lastErrno, native, type NativePtr } from './native.js';

const linkRegistry = new FinalizationRegistry<NativePtr>((l) => {
  try {
    native().bpf_link__destroy(l);
  } catch {
    /* process teardown */
  }
});

/** A raw tracepoint attachment opened by BPF_RAW_TRACEPOINT_OPEN: detached when its fd is closed. */
export class RawTracepointLink extends FdOwner {
  readonly description: string;

  constructor(fd: number, description: string) {
    super(fd, true);
    this.description = description;
  }

  protected describe(): string {
    return `raw tracepoint ${this.description}`;
  }

  /** Pins the attachment (a BPF link) so that it outlives this process. */
  pin(path: string): void {
    const fd = this.fd;
    check(`bpf_obj_pin(raw tracepoint ${this.description}, ${path})`, () => native().bpf_obj_pin(fd, path) as number);
  }
}

const SYS_bpf = 321; // x86_64
const BPF_RAW_TRACEPOINT_OPEN = 17;

/** Attaches a raw tracepoint program with a BPF cookie (kernel 6.10 and later) by the bpf syscall itself. */
export function openRawTracepoint(progFd: number, name: string, cookie: bigint): RawTracepointLink {
  const n = native();
  const fd = Number(n.bpf_raw_tp_open(SYS_bpf, BPF_RAW_TRACEPOINT_OPEN, { name, prog_fd: progFd, pad: 0, cookie }, n.sizes.rawTpAttr));
  if (fd < 0) throw new BpfError(`BPF_RAW_TRACEPOINT_OPEN(${name}, cookie ${cookie})`, lastErrno());
  return new RawTracepointLink(fd, name);
}

/** A libbpf bpf_link: detached on close() unless pinned. */
export class BpfLink implements Disposable {
  #l: NativePtr;
  readonly description: string;

  constructor(l: NativePtr, description: string) {
    this.#l = l;
    this.description = description;
    linkRegistry.register(this, l, this);
  }

  get fd(): number {
    if (this.#l === null) throw new Error(`link ${this.description}: used after close()`);
    return native().bpf_link__fd(this.#l) as number;
  }

  /** Pins the link so the attachment outlives this process. */
  pin(path: string): void {
    if (this.#l === null) throw new Error(`link ${this.description}: used after close()`);
    const l = this.#l;
    check(`bpf_link__pin(${this.description}, ${path})`, () => native().bpf_link__pin(l, path) as number);
  }

  close(): void {
    if (this.#l === null) return;
    linkRegistry.unregister(this);
    native().bpf_link__destroy(this.#l);
    this.#l = null;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

export type TcDirection = 'ingress' | 'egress';
const BPF_TC_INGRESS = 1;
const BPF_TC_EGRESS = 2;
const BPF_TC_F_REPLACE = 1;
const EEXIST = 17;

export interface TcAttachOptions {
  /** Interface index, or a name resolved with if_nametoindex in the calling process's netns. */
  ifindex?: number;
  ifname?: string;
  direction: TcDirection;
  /** tc filter handle and priority (defaults 1/1); an existing filter with both is replaced. */
  handle?: number;
  priority?: number;
}

export function ifindexOf(ifname: string): number {
  const i = native().if_nametoindex(ifname) as number;
  if (i === 0) throw new BpfError(`if_nametoindex(${ifname})`, 19, [], 'no such interface in this network namespace');
  return i;
}

function tcHook(ifindex: number, direction: TcDirection) {
  return { sz: native().sizes.tcHook, ifindex, attach_point: direction === 'ingress' ? BPF_TC_INGRESS : BPF_TC_EGRESS, parent: 0 };
}

/** A tc (clsact, direct-action) filter; close() detaches exactly this filter. */
export class TcLink implements Disposable {
  readonly ifindex: number;
  readonly direction: TcDirection;
  readonly handle: number;
  readonly priority: number;
  readonly progId: number;
  #attached = true;

  constructor(ifindex: number, direction: TcDirection, handle: number, priority: number, progId: number) {
    this.ifindex = ifindex;
    this.direction = direction;
    this.handle = handle;
    this.priority = priority;
    this.progId = progId;
  }

  close(): void {
    if (!this.#attached) return;
    this.#attached = false;
    const n = native();
    const r = n.bpf_tc_detach(tcHook(this.ifindex, this.direction), {
      sz: n.sizes.tcOpts,
      prog_fd: 0,
      flags: 0,
      prog_id: 0,
      handle: this.handle,
      priority: this.priority,
    }) as number;
    // The interface may be gone already (a deleted veth takes its filters along).
    if (r < 0 && r !== -19 && r !== -2 && r !== -22) throw new BpfError(`bpf_tc_detach(ifindex ${this.ifindex} ${this.direction})`, -r);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Attaches a sched_cls program as a direct-action clsact filter (creating the clsact qdisc when missing). */
export function attachTc(progFd: number, opts: TcAttachOptions): TcLink {
  const n = native();
  const ifindex = opts.ifindex ?? ifindexOf(opts.ifname ?? '');
  const hook = tcHook(ifindex, opts.direction);
  const where = `${opts.ifname ?? `ifindex ${ifindex}`} ${opts.direction}`;
  check(`bpf_tc_hook_create(${where})`, () => {
    const r = n.bpf_tc_hook_create(hook) as number;
    return r === -EEXIST ? 0 : r;
  });
  const o = {
    sz: n.sizes.tcOpts,
    prog_fd: progFd,
    flags: BPF_TC_F_REPLACE,
    prog_id: 0,
    handle: opts.handle ?? 1,
    priority: opts.priority ?? 1,
  };
  check(`bpf_tc_attach(${where})`, () => n.bpf_tc_attach(hook, o) as number);
  return new TcLink(ifindex, opts.direction, o.handle, o.priority, o.prog_id);
}

/** Removes the clsact qdisc (and every filter on it) from an interface. */
export function destroyTcHook(ifindex: number): void {
  const n = native();
  const hook = { sz: n.sizes.tcHook, ifindex, attach_point: BPF_TC_INGRESS | BPF_TC_EGRESS, parent: 0 };
  const r = n.bpf_tc_hook_destroy(hook) as number;
  if (r < 0 && r !== -2 && r !== -19 && r !== -22) throw new BpfError(`bpf_tc_hook_destroy(ifindex ${ifindex})`, -r);
}

export const XDP_FLAGS_UPDATE_IF_NOEXIST = 1;
export const XDP_FLAGS_SKB_MODE = 2;
export const XDP_FLAGS_DRV_MODE = 4;

/** An XDP program on an interface; close() detaches it. */
export class XdpLink implements Disposable {
  readonly ifindex: number;
  readonly flags: number;
  #attached = true;

  constructor(ifindex: number, flags: number) {
    this.ifindex = ifindex;
    this.flags = flags;
  }

  close(): void {
    if (!this.#attached) return;
    this.#attached = false;
    const r = native().bpf_xdp_detach(this.ifindex, this.flags, null) as number;
    if (r < 0 && r !== -19 && r !== -2) throw new BpfError(`bpf_xdp_detach(ifindex ${this.ifindex})`, -r);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

export function attachXdp(progFd: number, opts: { ifindex?: number; ifname?: string; flags?: number }): XdpLink {
  const ifindex = opts.ifindex ?? ifindexOf(opts.ifname ?? '');
  const flags = opts.flags ?? 0;
  check(`bpf_xdp_attach(${opts.ifname ?? `ifindex ${ifindex}`})`, () => native().bpf_xdp_attach(ifindex, progFd, flags, null) as number);
  return new XdpLink(ifindex, flags);
}
