// Loads weir's runtime programs (wrt_runtime.bpf.o) on this node and swaps compiled runtime images into
// them: every image goes into fresh inner maps behind the idle map-of-maps slot, then one update of
// wrt_active flips the generation, so a syscall sees the old policy or the new one, never a mix.
import { randomInt } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, unlinkSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpfMap, BpfObject, RingBuffer, type BpfLink, type RawTracepointLink } from '../libbpf-ts/index.js';
import { imageRecords } from '../abi/image.js';
import { decodeU32, encodeU32 } from '../abi/layouts.js';
import { checkRuntimeImage } from '../abi/runtime-check.js';
import {
  decodeRuntimeStats,
  emptyRuntimeImages as emptyImages,
  encodeNodeInfo,
  encodeNumKey,
  encodePolicyMode,
  encodeProc,
  kernelSites,
  type RuntimeMapImage,
  type RuntimeStats,
} from '../abi/runtime.js';

/** bpf/build/wrt_runtime.bpf.o, also when running from dist/ (WEIR_BPF_OBJECTS overrides the directory). */
export const defaultRuntimeObject = ((): string => {
  const env = process.env['WEIR_BPF_OBJECTS'];
  if (env) return path.join(env, 'wrt_runtime.bpf.o');
  const beside = fileURLToPath(new URL('../build/wrt_runtime.bpf.o', import.meta.url));
  const fromDist = fileURLToPath(new URL('../../../bpf/build/wrt_runtime.bpf.o', import.meta.url));
  return existsSync(beside) || !existsSync(fromDist) ? beside : fromDist;
})();

const slotMaps: Record<RuntimeMapImage['name'], string> = {
  wrt_hooks: 'wrt_hooks_slots',
  wrt_calls: 'wrt_calls_slots',
  wrt_lists: 'wrt_lists_slots',
  wrt_bin_index: 'wrt_bin_index_slots',
  wrt_policies: 'wrt_policies_slots',
  wrt_str_a: 'wrt_str_a_slots',
  wrt_str_b: 'wrt_str_b_slots',
  wrt_str: 'wrt_str_slots',
  wrt_prefix: 'wrt_prefix_slots',
  wrt_postfix: 'wrt_postfix_slots',
  wrt_num: 'wrt_num_slots',
};

export interface ApplyStats {
  generation: number;
  entries: Record<string, number>;
  attached: string[];
  detached: string[];
  /** Optional sites (ignore.callNotFound) left out because this kernel lacks their function, with why. */
  skipped: { site: string; reason: string }[];
  ms: number;
}

/** Namespace inode numbers of pid 1, indexed like WRT_NS_* (host_ns in matchNamespaces). */
export function hostNamespaces(): number[] {
  const kinds: [number, string][] = [
    [1, 'uts'],
    [2, 'ipc'],
    [3, 'mnt'],
    [4, 'pid'],
    [5, 'net'],
    [6, 'cgroup'],
    [7, 'pid_for_children'],
    // WRT_NS_USER (8) keeps its host inode in slot 0 (8 & 7).
    [0, 'user'],
  ];
  const out = new Array<number>(8).fill(0);
  for (const [i, k] of kinds) {
    try {
      out[i] = statSync(`/proc/1/ns/${k}`).ino;
    } catch {
      /* namespace kind not present */
    }
  }
  return out;
}

/** Maps shared across restarts when pinned: everything the programs read or write. */
const pinnedMaps = [
  'wrt_stats',
  'wrt_hooks_slots',
  'wrt_calls_slots',
  'wrt_lists_slots',
  'wrt_bin_index_slots',
  'wrt_policies_slots',
  'wrt_str_a_slots',
  'wrt_str_b_slots',
  'wrt_str_slots',
  'wrt_prefix_slots',
  'wrt_postfix_slots',
  'wrt_num_slots',
  'wrt_active',
  'wrt_node',
  'wrt_procs',
  'wrt_events',
  // A kretprobe's arguments kept at entry: its stash and return programs may be instances of two agents.
  'wrt_kret',
];

export interface RuntimeOpenOptions {
  objectPath?: string;
  /**
   * bpffs directory (e.g. /sys/fs/bpf/wrt-<node>): maps and links (tracepoints, kernel-function sites) are pinned there, so
   * enforcement outlives the agent, and a restarted agent adopts them (same maps, generation kept).
   */
  pinDir?: string;
}

/** An object file beside wrt_runtime.bpf.o (same directory, WEIR_BPF_OBJECTS included). */
const siblingObject = (runtimeObject: string, name: string) => path.join(path.dirname(runtimeObject), name);

/**
 * How the agent attaches one kernel-function site: which object and entry program, and how.
 *   runtime   wrt_runtime.bpf.o (kentry.h): kprobe/kretprobe with the site number as BPF cookie (a kretprobe's
 *             arguments kept by a stash kprobe at entry), raw tracepoints with the cookie.
 *   override  wrt_override.bpf.o, loaded once on the runtime's maps: kprobes calling bpf_override_return.
 *   btf       wrt_fentry.bpf.o, one instance per attach target (the target is fixed at load, in vmlinux BTF):
 *             fentry, fexit (a syscall's function: the _sys entries, the syscall's arguments from its user
 *             registers) and fmod_ret by bpf_program__attach_trace_opts, BPF LSM by bpf_program__attach_lsm's
 *             path; each with the site number as cookie.
 */
export type SiteEntry =
  | { object: 'runtime'; how: 'kprobe' | 'kretprobe' | 'raw_tp'; entry: string; stash?: string }
  | { object: 'override'; how: 'kprobe'; entry: string }
  | { object: 'btf'; how: 'trace' | 'lsm'; entry: string };

/** The entry program that attaches a kernel-function site of the given kind, or why none does. */
export function siteEntries(kind: string, target: string): SiteEntry | { refused: string } {
  const sys = target.startsWith('__x64_sys_');
  switch (kind) {
    case 'raw_tp':
      return { object: 'runtime', how: 'raw_tp', entry: 'wrt_raw_tp' };
    case 'kprobe':
      return { object: 'runtime', how: 'kprobe', entry: sys ? 'wrt_kprobe_sys' : 'wrt_kprobe' };
    case 'kretprobe':
      return { object: 'runtime', how: 'kretprobe', entry: 'wrt_kretprobe', stash: sys ? 'wrt_kprobe_sys_stash' : 'wrt_kprobe_stash' };
    case 'kprobe_override':
      return { object: 'override', how: 'kprobe', entry: sys ? 'wrt_kprobe_sys_override' : 'wrt_kprobe_override' };
    case 'fentry':
    case 'fexit':
      return { object: 'btf', how: 'trace', entry: `wrt_${kind}${sys ? '_sys' : ''}` };
    case 'fmod_ret':
      return { object: 'btf', how: 'trace', entry: 'wrt_fmod_ret' };
    case 'lsm':
      return { object: 'btf', how: 'lsm', entry: 'wrt_lsm' };
    default:
      return { refused: `not a syscall tracepoint, and weir's runtime has no entry program for ${kind} sites (${kind}/${target})` };
  }
}

/** One step of attaching a node's sites: the link key (pinned as link-<kind>-<target>), entry, target and cookie. */
export interface AttachStep {
  key: string;
  site: string;
  entry: SiteEntry;
  target: string;
  cookie: bigint;
  /** A kretprobe's stash kprobe, attached with it (key `<site>#entry`). */
  stash?: true;
}

/**
 * The attach plan of a node's attach list, in order: syscall tracepoints are not in it (they attach by
 * category/name); every kernel-function site is, or the list is refused naming the site the agent cannot attach.
 */
export function attachPlan(attach: readonly string[]): AttachStep[] {
  const steps: AttachStep[] = [];
  for (const site of kernelSites(attach)) {
    const e = /^[\w.]+$/.test(site.target) ? siteEntries(site.kind, site.target) : { refused: `${site.attach} is not an attach point` };
    if ('refused' in e) throw new Error(`runtime attach point ${site.attach}: ${e.refused}`);
    const cookie = BigInt(site.site);
    if (e.object === 'runtime' && e.stash)
      steps.push({
        key: `${site.attach}#entry`,
        site: site.attach,
        entry: { ...e, how: 'kprobe', entry: e.stash },
        target: site.target,
        cookie,
        stash: true,
      });
    steps.push({ key: site.attach, site: site.attach, entry: e, target: site.target, cookie });
  }
  return steps;
}

/**
 * The kernel symbol a site needs (the function; an LSM hook's bpf_lsm_<hook>), or undefined where weir does not
 * check (raw tracepoints).
 */
export function siteSymbol(kind: string, target: string): string | undefined {
  if (kind === 'raw_tp') return undefined;
  return kind === 'lsm' ? `bpf_lsm_${target}` : target;
}

/** Function names in /proc/kallsyms (the kernel's and its modules'), for ignore.callNotFound. */
export function kernelSymbols(file = '/proc/kallsyms'): Set<string> {
  const out = new Set<string>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const name = line.split(/\s+/)[2];
    if (name) out.add(name);
  }
  return out;
}

/** Maps the other runtime objects share with wrt_runtime.bpf.o (all but their own per-CPU scratch and internal maps). */
const sharedMap = (name: string) => !name.includes('.') && name !== 'wrt_scratch_map';

const linkPin = (dir: string, attach: string) => path.join(dir, `link-${attach.replace('/', '-')}`);

export class RuntimeDatapath implements Disposable {
  readonly object: BpfObject;
  readonly #links = new Map<string, BpfLink | RawTracepointLink | 'pinned'>();
  readonly #inner: BpfMap[] = [];
  readonly #pinDir: string | undefined;
  readonly #objectPath: string;
  /** wrt_override.bpf.o on this object's maps, loaded at the first Override site. */
  #override: BpfObject | undefined;
  #generation = 0;
  #serial = randomInt(1, 0x7fffffff);
  #applied = false;

  private constructor(object: BpfObject, pinDir: string | undefined, objectPath: string) {
    this.object = object;
    this.#pinDir = pinDir;
    this.#objectPath = objectPath;
  }

  /** Loads the object and starts process tracking; no policy is active until apply() (unless adopted from pins). */
  static open(opts: string | RuntimeOpenOptions = {}): RuntimeDatapath {
    const o = typeof opts === 'string' ? { objectPath: opts } : opts;
    const pinDir = o.pinDir;
    const reuse: Record<string, BpfMap> = {};
    if (pinDir) {
      mkdirSync(pinDir, { recursive: true });
      for (const m of pinnedMaps) if (existsSync(path.join(pinDir, m))) reuse[m] = BpfMap.openPinned(path.join(pinDir, m));
    }
    const adopting = Object.keys(reuse).length > 0;
    let obj: BpfObject | undefined;
    try {
      const objectPath = o.objectPath ?? defaultRuntimeObject;
      obj = BpfObject.open(objectPath, { reuseMaps: reuse });
      obj.load();
      const dp = new RuntimeDatapath(obj, pinDir, objectPath);
      dp.#inner.push(...Object.values(reuse));
      if (pinDir) for (const m of pinnedMaps) if (!reuse[m]) obj.map(m).pin(path.join(pinDir, m));
      for (const [prog, tp] of [
        ['wrt_exec', 'sched_process_exec'],
        ['wrt_fork', 'sched_process_fork'],
        ['wrt_exit', 'sched_process_exit'],
      ] as const)
        dp.#attach(prog, 'sched', tp);
      if (pinDir) {
        // Attach points pinned by an earlier agent (tracepoints and kernel-function sites, a kretprobe's stash
        // kprobe as `<site>#entry`) keep their (older) program instances on the same maps: adopted as they are.
        for (const f of readdirSync(pinDir))
          if (f.startsWith('link-') && !f.startsWith('link-sched-')) dp.#links.set(f.slice(5).replace('-', '/'), 'pinned');
      }
      // Processes that exec'd before weir loaded get their binary from /proc (as Tetragon's procfs scan).
      if (!adopting) dp.seedProcesses();
      if (adopting && reuse['wrt_active']) {
        const active = reuse['wrt_active'].lookup(encodeU32(0));
        dp.#generation = (active ? decodeU32(active) : 0) & 1;
        dp.#applied = true;
      }
      obj.map('wrt_node').update(encodeU32(0), encodeNodeInfo(hostNamespaces()));
      return dp;
    } catch (e) {
      obj?.close();
      for (const m of Object.values(reuse)) m.close();
      throw e;
    }
  }

  #attach(prog: string, cat: string, name: string): void {
    const key = `${cat}/${name}`;
    if (this.#pinDir && existsSync(linkPin(this.#pinDir, key))) {
      this.#links.set(key, 'pinned');
      return;
    }
    const link = this.object.program(prog).attachTracepoint(cat, name);
    try {
      if (this.#pinDir) link.pin(linkPin(this.#pinDir, key));
    } catch (e) {
      link.close();
      throw e;
    }
    this.#links.set(key, link);
  }

  /** Another runtime object (wrt_override, wrt_fentry) opened on this object's maps, only `programs` loading. */
  #sibling(file: string, programs: string[]): BpfObject {
    const obj = BpfObject.open(siblingObject(this.#objectPath, file), { programs });
    try {
      for (const m of obj.mapNames()) if (sharedMap(m)) obj.reuseMap(m, this.object.map(m));
    } catch (e) {
      obj.close();
      throw e;
    }
    return obj;
  }

  /** Attaches one step of the plan (pinned when the agent pins), or throws libbpf's reason. */
  #attachStep(step: AttachStep): void {
    const link = this.#link(step);
    try {
      if (this.#pinDir) link.pin(linkPin(this.#pinDir, step.key));
    } catch (e) {
      link.close();
      throw e;
    }
    this.#links.set(step.key, link);
  }

  #link({ entry: e, target, cookie }: AttachStep): BpfLink | RawTracepointLink {
    if (e.object === 'runtime') {
      const p = this.object.program(e.entry);
      if (e.how === 'raw_tp') return p.attachRawTracepoint(target, cookie);
      return p.attachKprobe(target, { cookie, retprobe: e.how === 'kretprobe' });
    }
    if (e.object === 'override') {
      if (!this.#override) {
        const o = this.#sibling('wrt_override.bpf.o', ['wrt_kprobe_override', 'wrt_kprobe_sys_override']);
        try {
          o.load();
        } catch (err) {
          o.close();
          throw err;
        }
        this.#override = o;
      }
      return this.#override.program(e.entry).attachKprobe(target, { cookie });
    }
    // The attach target is fixed at load: an instance of the program per target. The link holds the program,
    // so the instance's object (its own handles on the shared maps) is closed once attached.
    const obj = this.#sibling('wrt_fentry.bpf.o', [e.entry]);
    try {
      const p = obj.program(e.entry);
      p.setAttachTarget(target);
      obj.load();
      return e.how === 'lsm' ? p.attachLsm({ cookie }) : p.attachTrace({ cookie });
    } finally {
      obj.close();
    }
  }

  #detach(key: string): void {
    const l = this.#links.get(key);
    if (l && l !== 'pinned') l.close();
    if (this.#pinDir && existsSync(linkPin(this.#pinDir, key))) unlinkSync(linkPin(this.#pinDir, key));
    this.#links.delete(key);
  }

  get generation(): number {
    return this.#generation;
  }

  /**
   * Seeds the process table from /proc for processes that exec'd before weir loaded (their binary is
   * /proc/PID/exe), so matchBinaries sees them too. Only the given pids when a list is passed.
   */
  seedProcesses(pids?: number[]): number {
    const procs = this.object.map('wrt_procs');
    const list =
      pids ??
      readdirSync('/proc')
        .filter((d) => /^\d+$/.test(d))
        .map(Number);
    let n = 0;
    for (const pid of list) {
      try {
        const exe = readlinkSync(`/proc/${pid}/exe`);
        const status = statSync(`/proc/${pid}`);
        // Field 4 of /proc/PID/stat is the ppid; the comm before it may hold spaces and parentheses.
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1] ?? 0);
        procs.update(encodeU32(pid), encodeProc({ pid, ppid, uid: status.uid, binary: exe }));
        n++;
      } catch {
        /* exited, or a kernel thread */
      }
    }
    return n;
  }

  /**
   * Installs a node's runtime images and attaches the syscall tracepoints they need, atomically.
   * `scopes` (scope set → cgroup ids of the pods it selects) is written into the new generation's
   * numeric sets before the flip, so a pod-scoped policy is enforced from its first instant.
   */
  apply(
    given: readonly RuntimeMapImage[],
    attach: readonly string[],
    scopes?: ReadonlyMap<number, readonly bigint[]>,
    optional: readonly string[] = [],
  ): ApplyStats {
    const t0 = performance.now();
    // Every slot of the next generation is refilled, so nothing of an older generation survives in it.
    const images = emptyImages
      .map((e) => given.find((g) => g.name === e.name) ?? e)
      .map((img) => {
        if (img.name !== 'wrt_num' || !scopes?.size) return img;
        const extra = [...scopes].flatMap(([set, ids]) => ids.map((id) => [encodeNumKey(set, id), Uint8Array.of(1)] as const));
        if (img.records.length + extra.length > img.maxEntries)
          throw new Error(`pod scopes need ${extra.length} cgroup entries; wrt_num holds ${img.maxEntries - img.records.length} more`);
        return { ...img, records: [...img.records, ...extra] };
      });
    // Sites whose hooks all say ignore.callNotFound are left out where the kernel lacks the function, as
    // Tetragon does; any other site's missing function fails the attach below.
    const skipped: ApplyStats['skipped'] = [];
    let symbols: Set<string> | undefined;
    const plan = attachPlan(attach).filter((step) => {
      if (!optional.includes(step.site) || this.#links.has(step.key)) return true;
      const site = kernelSites([step.site])[0]!;
      const sym = siteSymbol(site.kind, site.target);
      symbols ??= kernelSymbols();
      if (sym === undefined || symbols.has(sym)) return true;
      if (!step.stash) skipped.push({ site: step.site, reason: `ignore.callNotFound: this kernel has no ${sym}` });
      return false;
    });
    const added: string[] = [];
    const next = this.#applied ? this.#generation ^ 1 : 0;
    const entries: Record<string, number> = {};
    const fresh: BpfMap[] = [];
    try {
      for (const img of images) {
        const inner = BpfMap.create({
          type: img.type,
          name: `${img.name}_${next}`,
          keySize: img.keySize,
          valueSize: img.valueSize,
          maxEntries: img.maxEntries,
        });
        fresh.push(inner);
        for (const [k, v] of img.records) inner.update(k, v);
        entries[img.name] = img.records.length;
      }
      // Attach before the flip: a program attached early finds the old generation's hooks (none for a new site).
      // Site numbers hash the attach point, so a link serves every generation that names it. An attach that
      // fails undoes this apply's attachments and leaves the generation in force untouched.
      try {
        for (const a of attach) {
          if (this.#links.has(a) || !/^(syscalls|raw_syscalls)\//.test(a)) continue;
          const [cat, name] = a.split('/') as [string, string];
          this.#attach(cat === 'raw_syscalls' ? 'wrt_raw_sys_enter' : 'wrt_sys_enter', cat, name);
          added.push(a);
        }
        for (const step of plan) {
          if (this.#links.has(step.key)) continue;
          try {
            this.#attachStep(step);
          } catch (e) {
            const why = (e as Error).message;
            throw new Error(`runtime attach point ${step.site} not attached (the runtime policy in force is unchanged): ${why}`, {
              cause: e,
            });
          }
          added.push(step.key);
        }
      } catch (e) {
        for (const k of added.reverse()) this.#detach(k);
        throw e;
      }
      images.forEach((img, i) => this.object.map(slotMaps[img.name]).setInner(encodeU32(next), fresh[i]!));
      // Bit 0 selects the slots; the bits above number the generation (from a random start per
      // instance), so the handler's per-process cache (wrt_proc.pad) never mistakes one
      // generation, or another instance's, for this one.
      this.#serial = this.#serial >= 0x7fffffff ? 1 : this.#serial + 1;
      this.object.map('wrt_active').update(encodeU32(0), encodeU32((this.#serial << 1) | next)); // the commit point
      const detached: string[] = [];
      for (const a of [...this.#links.keys()]) {
        if (a.startsWith('sched/') || attach.includes(a.replace(/#entry$/, ''))) continue;
        this.#detach(a);
        detached.push(a);
      }
      // The outer maps hold the inner maps now; our fds can go (the idle slot is replaced next time).
      for (const m of fresh) m.close();
      this.#generation = next;
      this.#applied = true;
      return {
        generation: next,
        entries,
        attached: added.filter((k) => !k.endsWith('#entry')),
        detached,
        skipped,
        ms: performance.now() - t0,
      };
    } catch (e) {
      for (const m of fresh) m.close();
      throw e;
    }
  }

  /**
   * Applies a bundle's runtime images as the agent receives them (records sorted key‖value, see
   * compiler/bundle) with the node's attach list from the bundle's `runtime_hooks` table.
   */
  applyBundle(
    images: readonly {
      image: { name: string; type: string; keyType: string; valueType: string; keySize: number; valueSize: number; maxEntries: number };
      bytes: Uint8Array;
    }[],
    attach: readonly string[],
    scopes?: ReadonlyMap<number, readonly bigint[]>,
    optional: readonly string[] = [],
  ): ApplyStats {
    const decoded: RuntimeMapImage[] = images.map(({ image, bytes }) => {
      const problems = checkRuntimeImage(image, bytes.length);
      if (problems.length) throw new Error(problems.join('; '));
      const shape = emptyImages.find((e) => e.name === image.name)!;
      return { ...shape, records: imageRecords(image, bytes) };
    });
    for (const a of attach)
      if (!a.includes('/') || (/^(syscalls|raw_syscalls)\//.test(a) && !/^(syscalls\/sys_enter_\w+|raw_syscalls\/sys_enter)$/.test(a)))
        throw new Error(`runtime attach point ${a}: not an attach point`);
    attachPlan(attach); // every kernel-function site has an entry program, checked before any map changes
    return this.apply(decoded, attach, scopes, optional);
  }

  /**
   * Puts cgroups in (or out of) a scoped policy's scope in the generation in service: the agent calls
   * this with the cgroup ids of the pods a TracingPolicyNamespaced / podSelector selects (the hook
   * table's scopeSet), again after each apply (a new generation starts with empty scopes).
   */
  setScope(scopeSet: number, cgroupIds: readonly bigint[], present = true): void {
    const inner = this.object.map('wrt_num_slots').openInner(encodeU32(this.#generation));
    if (!inner) throw new Error('no runtime policy is applied');
    try {
      for (const id of cgroupIds) {
        const k = encodeNumKey(scopeSet, id);
        if (present) inner.update(k, Uint8Array.of(1));
        else inner.delete(k);
      }
    } finally {
      inner.close();
    }
  }

  /** Flips one policy between enforce (0) and monitor (1) in the generation in service. */
  setMode(policyId: number, mode: 'enforce' | 'monitor'): void {
    const inner = this.object.map('wrt_policies_slots').openInner(encodeU32(this.#generation));
    if (!inner) throw new Error('no runtime policy is applied');
    try {
      inner.update(encodeU32(policyId), encodePolicyMode(mode));
    } finally {
      inner.close();
    }
  }

  /** Counters summed over CPUs (hook calls, selector matches, signals, events written and lost). */
  stats(): RuntimeStats {
    return decodeRuntimeStats(this.object.map('wrt_stats').lookup(encodeU32(0)));
  }

  /** Consumes ring-buffer records (raw bytes; decode with controller/events/tetragon.ts). */
  events(onRecord: (data: Buffer) => void): RingBuffer {
    return new RingBuffer(this.object.map('wrt_events'), onRecord);
  }

  /** Releases this process's handles; pinned maps and links stay (enforcement continues). */
  close(): void {
    for (const l of this.#links.values()) if (l !== 'pinned') l.close();
    this.#links.clear();
    this.#override?.close();
    this.#override = undefined;
    for (const m of this.#inner) m.close();
    this.#inner.length = 0;
    this.object.close();
  }

  /** Detaches everything and removes the pins: weir's runtime enforcement leaves this node. */
  destroy(): void {
    for (const k of [...this.#links.keys()]) this.#detach(k);
    const dir = this.#pinDir;
    this.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
