// A reading of Falco's semantics, written apart from the converter, to check its conversions: whether Falco
// fires a condition on one syscall event. Falco evaluates a syscall once, at its exit: proc.* is the caller,
// except after a successful execve/execveat, where it is the launched program (its comm: the first 15
// characters of the basename of the path it was started with); fd.* exists only on calls that create or use
// a descriptor, and on open/openat/openat2/creat Falco takes fd.name from the path argument (made absolute:
// these events use absolute paths); fd.filename and fd.typechar need the open to succeed; evt.arg.* renders
// flags and enumerations by name.
import type { CheckExpr, Expr, Value } from '../../compiler/convert/falco/ast.js';
import { cloneFlagBits, openFlagBits, otherConstants, ptraceRequests } from '../../compiler/convert/falco/syscalls.js';

export interface FalcoEvent {
  /** The Falco event type (the syscall). */
  call: string;
  /** The call's arguments by the names Falco gives the event's parameters. */
  args: Record<string, string | number>;
  /** Whether the call succeeded. */
  ok: boolean;
  /** The calling process: the path it was started with, its pod (absent: a host process), its capabilities. */
  caller: { binary: string; pod?: { namespace: string }; caps?: readonly string[] };
}

/** A field this reading does not model: the event cannot be judged. */
export class Unmodeled extends Error {}

const opens = new Set(['open', 'openat', 'openat2', 'creat']);
const execs = new Set(['execve', 'execveat']);
// Calls with a descriptor (libs' event table: EF_CREATES_FD / EF_USES_FD) among those the tests use.
const fdCalls = new Set([
  'open',
  'openat',
  'openat2',
  'creat',
  'socket',
  'connect',
  'accept',
  'accept4',
  'bpf',
  'memfd_create',
  'unlinkat',
  'mkdirat',
  'symlinkat',
  'fchmodat',
  'fchownat',
  'finit_module',
  'read',
  'write',
  'close',
  'dup',
  'dup2',
  'dup3',
  'setns',
  'mmap',
  'ioctl',
]);

const basename = (p: string) => p.slice(p.lastIndexOf('/') + 1);
const comm = (path: string) => basename(path).slice(0, 15);

// Names Falco renders numeric arguments with: flags joined by |, enumerations by their name.
const enumPrefix: Record<string, string> = { domain: 'AF_', cmd: 'BPF_', request: 'PTRACE_', option: 'PR_' };
const constants: Record<string, number> = { ...ptraceRequests, ...otherConstants };

function render(name: string, v: number): string {
  if (name === 'flags') {
    const set = Object.entries({ ...openFlagBits, ...cloneFlagBits })
      .filter(([, bit]) => (v & bit) === bit)
      .map(([n]) => n);
    return set.length ? set.join('|') : String(v);
  }
  const prefix = enumPrefix[name];
  const e = prefix ? Object.entries(constants).find(([n, k]) => n.startsWith(prefix) && k === v) : undefined;
  return e ? e[0] : String(v);
}

type FieldValue = { kind: 'absent' } | { kind: 'str'; v: string } | { kind: 'num'; v: number; rendered: string };
const absent: FieldValue = { kind: 'absent' };
const str = (v: string): FieldValue => ({ kind: 'str', v });
const num = (v: number, rendered = String(v)): FieldValue => ({ kind: 'num', v, rendered });

function extract(field: string, arg: string | undefined, ev: FalcoEvent): FieldValue {
  const launched = execs.has(ev.call) && ev.ok;
  const path = (ev.args['name'] ?? ev.args['path']) as string | undefined;
  switch (field) {
    case 'evt.type':
      return str(ev.call);
    case 'evt.dir':
      return str('<');
    case 'evt.num':
      return num(1);
    case 'evt.res':
      return str(ev.ok ? 'SUCCESS' : 'ENOENT');
    case 'evt.rawres':
      return num(ev.ok ? 0 : -2);
    case 'evt.failed':
      return str(String(!ev.ok));
    case 'proc.name':
      if (launched) return str(comm(String(ev.args['filename'] ?? ev.args['pathname'])));
      return str(comm(ev.caller.binary));
    case 'container.id':
      return str(ev.caller.pod ? 'c0ffee123456' : 'host');
    case 'k8s.ns.name':
      return ev.caller.pod ? str(ev.caller.pod.namespace) : absent;
    case 'thread.cap_effective':
    case 'thread.cap_permitted':
      if (launched) throw new Unmodeled(`${field} after an exec`);
      return str((ev.caller.caps ?? []).join(' '));
    case 'evt.is_open_write':
    case 'evt.is_open_read': {
      if (!(ev.call === 'open' || ev.call === 'openat' || ev.call === 'openat2')) return str('false');
      const acc = Number(ev.args['flags'] ?? 0) & 3;
      return str(String(field === 'evt.is_open_write' ? acc === 1 || acc === 2 : acc === 0 || acc === 2));
    }
  }
  if (field.startsWith('fd.') || field.startsWith('fdlist.')) {
    if (!fdCalls.has(ev.call)) return absent;
    if (!opens.has(ev.call)) throw new Unmodeled(`${field} on ${ev.call}`);
    if (path === undefined) throw new Unmodeled(`${field} without a path`);
    switch (field) {
      case 'fd.name':
      case 'fd.nameraw':
        return str(path);
      case 'fd.directory':
        return str(path.lastIndexOf('/') > 0 ? path.slice(0, path.lastIndexOf('/')) : '/');
      case 'fd.filename':
        return ev.ok ? str(basename(path)) : absent;
      case 'fd.typechar':
        return ev.ok ? str('f') : absent;
      case 'fd.num':
        return num(ev.ok ? 3 : -1);
    }
    throw new Unmodeled(field);
  }
  if (field === 'evt.arg' || field === 'evt.rawarg' || field.startsWith('evt.arg.') || field.startsWith('evt.rawarg.')) {
    const name = arg ?? field.slice(field.indexOf('.arg') + (field.includes('rawarg') ? 8 : 5));
    const v = ev.args[name];
    if (v === undefined) return absent;
    return typeof v === 'number' ? num(v, field.includes('rawarg') ? String(v) : render(name, v)) : str(v);
  }
  throw new Unmodeled(field);
}

function values(v: Value | undefined): string[] {
  if (!v) return [];
  if (v.kind === 'value') return [v.value];
  if (v.kind === 'list') return v.items.map((i) => i.value);
  throw new Unmodeled(`right-hand ${v.kind}`);
}

/** One comparison of a field value with one value, as libsinsp's operators compare. */
function compare(op: string, f: FieldValue, v: string): boolean {
  if (f.kind === 'absent') return false;
  const s = f.kind === 'str' ? f.v : f.rendered;
  const n = Number(v);
  const numeric = f.kind === 'num' && v.trim() !== '' && !Number.isNaN(n);
  switch (op) {
    case '=':
    case '==':
    case 'in':
      return numeric ? f.v === n : s === v;
    case '!=':
      return !compare('=', f, v);
    case 'contains':
      return s.includes(v);
    case 'icontains':
      return s.toLowerCase().includes(v.toLowerCase());
    case 'startswith':
      return s.startsWith(v);
    case 'endswith':
      return s.endsWith(v);
    case 'pmatch':
      return s === v.replace(/\/$/, '') || s.startsWith(v.endsWith('/') ? v : v + '/');
    case 'glob':
      return new RegExp(
        '^' +
          v
            .replace(/[.+^${}()|\\]/g, '\\$&')
            .replace(/\*/g, '.*')
            .replace(/\?/g, '.') +
          '$',
      ).test(s);
    case '<':
      return f.kind === 'num' && f.v < n;
    case '<=':
      return f.kind === 'num' && f.v <= n;
    case '>':
      return f.kind === 'num' && f.v > n;
    case '>=':
      return f.kind === 'num' && f.v >= n;
  }
  throw new Unmodeled(`operator ${op}`);
}

function check(c: CheckExpr, ev: FalcoEvent): boolean {
  if (c.left.kind !== 'field') throw new Unmodeled('transformer');
  const f = extract(c.left.name, c.left.arg, ev);
  if (c.op === 'exists') return f.kind !== 'absent';
  const vs = values(c.right);
  if (c.modifier) {
    // libsinsp's quantifiers: some value, every value, exactly one value; an empty list never holds.
    if (vs.length === 0 || f.kind === 'absent') return false;
    const hits = vs.filter((v) => compare(c.op, f, v)).length;
    return c.modifier === 'anyof' ? hits > 0 : c.modifier === 'allof' ? hits === vs.length : hits === 1;
  }
  if (c.op === 'in' || c.op === 'pmatch') return vs.some((v) => compare(c.op, f, v));
  return compare(c.op, f, vs[0] ?? '');
}

/** Whether Falco fires the (resolved) condition on the event. Throws Unmodeled for what it does not model. */
export function falcoFires(e: Expr, ev: FalcoEvent): boolean {
  switch (e.kind) {
    case 'and':
      return e.children.every((c) => falcoFires(c, ev));
    case 'or':
      return e.children.some((c) => falcoFires(c, ev));
    case 'not':
      return !falcoFires(e.child, ev);
    case 'identifier':
      throw new Unmodeled(`macro ${e.name}`);
    case 'check':
      return check(e, ev);
  }
}
