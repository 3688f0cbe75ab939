// `weir test --kernel`: runtime PolicyTest cases against the real programs and the compiled images.
// Each case runs the probe binary (bpf/runtime/wrt-probe.c, compiled into a temp dir): it unshares a
// mount namespace, waits, and is given the case's identity in weir's process table (binary path, uid)
// before it makes the call, so matchBinaries sees the case's binary while the only process that can be
// killed is the probe itself. The verdict is what happened: SIGKILL, another signal, an event, nothing.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeU32 } from '../abi/layouts.js';
import { decodeRuntimeEvent, encodeProc, type RuntimeMapImage } from '../abi/runtime.js';
import { RuntimeDatapath } from './loader.js';

// The C source is not copied to dist/: from dist/bpf/runtime/ look in the source tree.
const probeSource = ((): string => {
  const beside = fileURLToPath(new URL('./wrt-probe.c', import.meta.url));
  const fromDist = fileURLToPath(new URL('../../../bpf/runtime/wrt-probe.c', import.meta.url));
  return existsSync(beside) || !existsSync(fromDist) ? beside : fromDist;
})();

export interface KernelCase {
  binary: string;
  uid?: number;
  nr: number;
  args: (string | number)[];
  /** Scope sets (hook table scopeSet) of the scoped policies whose pods include the case's process. */
  scopeSets?: number[];
}

const cgroup2 = '/sys/fs/cgroup/unified';

export interface KernelOutcome {
  verdict: 'kill' | 'signal' | 'post' | 'allow' | 'skipped';
  detail: string;
  /** Hook ids of the events the call posted, ascending. */
  hookIds?: number[];
}

/** Syscalls the runner will really make (inside the probe's own mount namespace); others are skipped. */
const safeCalls = new Set([
  2 /* open */, 257 /* openat */, 437 /* openat2 */, 165 /* mount */, 166 /* umount2 */, 155 /* pivot_root */, 4 /* stat */, 6 /* lstat */,
  21 /* access */, 89 /* readlink */, 262 /* newfstatat */,
]);
const O_WRITE_MASK = 0o1 | 0o2 | 0o100 | 0o1000; // O_WRONLY | O_RDWR | O_CREAT | O_TRUNC

/** Why a case may not run in the kernel, or undefined when it may. */
export function unsafeReason(c: KernelCase): string | undefined {
  if (!safeCalls.has(c.nr))
    return `syscall ${c.nr} is not in the --kernel allow list (open, openat, openat2, mount, umount2, pivot_root, stat, lstat, access, readlink, newfstatat): it would really run on this machine`;
  const flags = c.nr === 2 ? c.args[1] : c.nr === 257 ? c.args[2] : undefined;
  if (typeof flags === 'number' && (flags & O_WRITE_MASK) !== 0)
    return 'open with write/create/truncate flags would modify the file: evaluated on the images only';
  if (c.nr === 437) return 'openat2 takes a struct: evaluated on the images only';
  return undefined;
}

/** Temp dirs and cgroups of earlier runs whose process is gone (names carry the pid). */
function removeLeftovers(): void {
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  for (const [dir, rm] of [
    [tmpdir(), (p: string) => rmSync(p, { recursive: true, force: true })],
    [cgroup2, (p: string) => rmdirSync(p)],
  ] as const) {
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const n of names) {
      const m = /^wrt-case-(\d+)-/.exec(n);
      if (m && !alive(Number(m[1]))) {
        try {
          rm(path.join(dir, n));
        } catch {
          /* busy: next time */
        }
      }
    }
  }
}

export class KernelCaseRunner implements Disposable {
  readonly #dir: string;
  readonly #probe: string;
  readonly #dp: RuntimeDatapath;
  readonly #events: { pid: number; action: number; monitor: boolean; hookId: number }[] = [];
  readonly #rb: { consume(): number; close(): void };

  constructor(images: readonly RuntimeMapImage[], attach: readonly string[]) {
    removeLeftovers();
    this.#dir = mkdtempSync(path.join(tmpdir(), `wrt-case-${process.pid}-`));
    this.#probe = path.join(this.#dir, 'wrt-probe');
    try {
      execFileSync('cc', ['-O2', '-o', this.#probe, probeSource]);
      this.#dp = RuntimeDatapath.open();
      this.#rb = this.#dp.events((b) => {
        const e = decodeRuntimeEvent(b);
        if (e && e.kind === 'call') this.#events.push({ pid: e.pid, action: e.action, monitor: e.monitor, hookId: e.hookId });
      });
      this.#dp.apply(images, attach);
    } catch (e) {
      rmSync(this.#dir, { recursive: true, force: true });
      throw e;
    }
  }

  async run(c: KernelCase): Promise<KernelOutcome> {
    const why = unsafeReason(c);
    if (why) return { verdict: 'skipped', detail: why };
    // A scoped case runs the probe in a cgroup of its own, put in the policy's scope like the agent puts a pod's.
    let cg: string | undefined;
    if (c.scopeSets?.length) {
      const root = existsSync(`${cgroup2}/cgroup.procs`)
        ? cgroup2
        : existsSync('/sys/fs/cgroup/cgroup.procs') && existsSync('/sys/fs/cgroup/cgroup.controllers')
          ? '/sys/fs/cgroup'
          : undefined;
      if (!root) return { verdict: 'skipped', detail: 'pod scoping needs a cgroup v2 hierarchy to put the probe in a cgroup of its own' };
      cg = path.join(root, `wrt-case-${process.pid}-${Math.random().toString(16).slice(2, 8)}`);
      mkdirSync(cg);
    }
    try {
      return await this.#runProbe(c, cg);
    } finally {
      if (cg) {
        try {
          rmdirSync(cg);
        } catch {
          /* still populated for a moment after the probe's exit */
          setTimeout(() => rmSync(cg!, { recursive: true, force: true }), 200).unref();
        }
      }
    }
  }

  async #runProbe(c: KernelCase, cg: string | undefined): Promise<KernelOutcome> {
    const args = c.args.map((a) => (typeof a === 'number' ? `i:${a}` : `s:${a}`));
    const child = spawn(this.#probe, ['call', String(c.nr), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    const pid = child.pid ?? 0;
    let out = '';
    let err = '';
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal })),
    );
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('probe did not get ready in 5 s')), 5000);
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('ready\n')) {
          clearTimeout(t);
          resolve();
        }
      });
      child.on('exit', () => reject(new Error(`probe exited before the call: ${err.trim()}`)));
    });
    // Events so far are the probe's own setup (its private mount): drop them.
    this.#rb.consume();
    this.#events.length = 0;
    // The case's identity in weir's process table: the handler reads the binary from here.
    this.#dp.object.map('wrt_procs').update(encodeU32(pid), encodeProc({ pid, uid: c.uid ?? 0, binary: c.binary }));
    let cgid: bigint | undefined;
    if (cg) {
      writeFileSync(path.join(cg, 'cgroup.procs'), String(pid));
      cgid = BigInt(statSync(cg).ino);
      for (const set of c.scopeSets ?? []) this.#dp.setScope(set, [cgid]);
    }
    child.stdin.end('x');
    const st = await Promise.race([exited, new Promise<null>((r) => setTimeout(() => r(null), 5000))]);
    if (cgid !== undefined) for (const set of c.scopeSets ?? []) this.#dp.setScope(set, [cgid], false);
    if (!st) {
      child.kill('SIGKILL');
      return { verdict: 'skipped', detail: 'probe did not finish in 5 s' };
    }
    this.#rb.consume();
    const evs = this.#events.filter((e) => e.pid === pid);
    this.#events.length = 0;
    const hookIds = evs.map((e) => e.hookId).sort((a, b) => a - b);
    if (st.signal === 'SIGKILL') return { verdict: 'kill', detail: `probe pid ${pid} was killed; ${evs.length} event(s)`, hookIds };
    if (st.signal) return { verdict: 'signal', detail: `probe pid ${pid} got ${st.signal}`, hookIds };
    if (evs.length) return { verdict: 'post', detail: `${evs.length} event(s)${evs.some((e) => e.monitor) ? ' (monitor)' : ''}`, hookIds };
    return { verdict: 'allow', detail: `no event (${out.trim().split('\n').pop()})`, hookIds };
  }

  close(): void {
    this.#rb.close();
    this.#dp.close();
    rmSync(this.#dir, { recursive: true, force: true });
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
