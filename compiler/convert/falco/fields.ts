// Every Falco field the converter reads, with what it means on each kind of call and what weir's hook sees.
// Falco evaluates a syscall once, at its exit (libs no longer sends enter events; evt.dir is deprecated), so a
// field describes the state after the call: after a successful execve, proc.* is the new program; after a
// failed one, still the caller. weir's runtime hooks the syscall's entry: it sees the arguments as passed
// and the calling process, never the outcome. The converter classifies every check through this table, and
// docs/convert.md shows the same table (a test keeps them equal).
import type { EventClass } from './syscalls.js';

/**
 * exact: the hook sees the value Falco reads. model: equal under an assumption (below), reported as a note.
 * attempt: the hook sees the attempt, Falco the outcome: weir fires on a superset (broader).
 * approx: only an over-approximation exists (broader). absent: Falco has no such field on these calls, so
 * every check on it is false. none: no selector sees it (not convertible; dropped with --allow-broader).
 */
export type Precision = 'exact' | 'model' | 'attempt' | 'approx' | 'absent' | 'none';

/** How the converter maps a field (compiler/convert/falco/convert.ts implements each). */
export type Mapping =
  | 'evt.type'
  | 'evt.num'
  | 'evt.dir'
  | 'path'
  | 'filename'
  | 'directory'
  | 'arg'
  | 'open-write'
  | 'open-create'
  | 'opened'
  | 'false-flag'
  | 'launch'
  | 'binary'
  | 'container'
  | 'k8s.ns'
  | 'cap'
  | 'absent'
  | 'none';

export const assumptions = {
  paths:
    'paths are compared as the process passes them; Falco makes them absolute against the working directory (or dirfd) and removes `.` and `..`. They agree for absolute paths without `.`/`..`; a relative path escapes the filter',
  comm: 'proc.name is the kernel\'s comm, the first 15 characters of the basename of the path the program was started with; weir matches that path with `Postfix /name`, so a program started by a bare relative name (execve("nc")) or renamed with prctl(PR_SET_NAME) escapes',
  pods: 'container.id != host is scoped to pods (podSelector: {}); containers outside Kubernetes pods are not matched',
  hostns: 'container.id = host is matched as the host mount namespace; a host service with a mount namespace of its own is not matched',
  execfail:
    'an exec is judged by the program it names; after a failed exec Falco reads the caller instead, so a listed program whose own exec fails is flagged by Falco and not by weir',
  symlinks:
    "Falco's fd.name is the name the file was opened by, made absolute without following symlinks; security_file_open's file is the file reached, its path resolved to the task's root with symlinks followed. They agree when no component of the opened name is a symlink (relative names and `.`/`..` agree too); an open through a symlink is judged by its target: a link to a listed file is flagged by weir and not by Falco, a listed name that is itself a symlink is seen as its target's path",
  reached:
    'security_file_open runs once the path was looked up and the permission checks passed: an open that fails earlier (no such file, permission denied) is not seen, as fd.num >= 0 in open_read/open_write excludes it; one that another LSM or the driver refuses afterwards is seen as opened',
} as const;
export type Assumption = keyof typeof assumptions;

export interface FieldRow {
  /** Field names; `x.*` matches every field under `x.`; `f[]` the field with an argument. */
  fields: readonly string[];
  /** The calls the row describes. */
  events: readonly EventClass[] | 'all';
  /** What Falco reads, on the call's exit event. */
  falco: string;
  /** What weir's hook sees at the call's entry, and the selector it becomes. */
  hook: string;
  precision: Precision;
  map: Mapping;
  /** What an inexact row blocks, as the report's summary counts it. */
  feature: string;
  assumptions?: readonly Assumption[];
}

const exec = ['exec'] as const;
const notExec = ['open', 'fd', 'nofd'] as const;
const open = ['open'] as const;
const kopen = ['kopen'] as const;
const fdCalls = ['fd'] as const;
const noFd = ['exec', 'nofd'] as const;

export const fieldRows: readonly FieldRow[] = [
  {
    fields: ['evt.type'],
    events: 'all',
    falco: 'the syscall',
    hook: 'the hook (`call: sys_<name>`)',
    precision: 'exact',
    map: 'evt.type',
    feature: 'evt.type',
  },
  {
    fields: ['evt.num'],
    events: 'all',
    falco: 'the event number (from 1): `evt.num=0` is the never_true idiom',
    hook: '`= 0` is false; other comparisons have no selector',
    precision: 'exact',
    map: 'evt.num',
    feature: 'evt.num',
  },
  {
    fields: ['evt.dir'],
    events: 'all',
    falco: 'deprecated: every syscall event is an exit event (`<`)',
    hook: '`<` is true, `>` false',
    precision: 'exact',
    map: 'evt.dir',
    feature: 'evt.dir',
  },
  // The launched program: proc.* after a successful exec describes it, after a failed one the caller.
  {
    fields: ['proc.name'],
    events: exec,
    falco: 'the launched program on success (its comm); the caller if the exec fails',
    hook: 'the attempt: the filename argument names the program (matchArgs Postfix `/name`); the caller is not the launched program',
    precision: 'attempt',
    map: 'launch',
    feature: 'exec outcome: the hook sees the attempt, not the launched program',
    assumptions: ['comm', 'execfail'],
  },
  {
    fields: ['proc.name'],
    events: notExec,
    falco: 'the calling process (its comm)',
    hook: 'the caller: matchBinaries Postfix `/name`',
    precision: 'model',
    map: 'binary',
    feature: 'proc.name',
    assumptions: ['comm'],
  },
  {
    fields: ['proc.exepath', 'proc.exe', 'proc.pexepath', 'proc.aexepath', 'proc.pexe', 'proc.aexe'],
    events: 'all',
    falco: "the executable path with symlinks resolved (proc.exe is argv[0]), after an exec the new program's",
    hook: 'the path the program was started with, unresolved: no exact selector',
    precision: 'none',
    map: 'none',
    feature: 'proc.exepath/proc.exe (resolved executable path)',
  },
  {
    fields: [
      'proc.pname',
      'proc.aname',
      'proc.aname[]',
      'proc.ppid',
      'proc.apid',
      'proc.apid[]',
      'proc.pcmdline',
      'proc.acmdline',
      'proc.pid.ts',
      'proc.ppid.duration',
    ],
    events: 'all',
    falco: 'an ancestor of the calling process; an exec keeps the parent',
    hook: 'no selector walks the process tree',
    precision: 'none',
    map: 'none',
    feature: 'proc.pname/proc.aname (ancestors)',
  },
  {
    fields: ['proc.cmdline', 'proc.args', 'proc.exeline'],
    events: 'all',
    falco: "the command line, after an exec the new program's",
    hook: 'argv is not available to selectors',
    precision: 'none',
    map: 'none',
    feature: 'proc.cmdline/proc.args (argv)',
  },
  // Capabilities: an exec recomputes them for the new program (setuid binaries, file capabilities).
  {
    fields: ['thread.cap_effective', 'thread.cap_permitted', 'thread.cap_inheritable'],
    events: notExec,
    falco: "the caller's capability sets",
    hook: 'matchCapabilities on the caller',
    precision: 'exact',
    map: 'cap',
    feature: 'thread.cap_*',
  },
  {
    fields: ['thread.cap_effective', 'thread.cap_permitted', 'thread.cap_inheritable'],
    events: exec,
    falco: 'the capabilities of the launched program (an exec recomputes them)',
    hook: "the caller's capabilities only",
    precision: 'none',
    map: 'none',
    feature: 'thread.cap_* after exec',
  },
  {
    fields: ['proc.*', 'thread.*'],
    events: 'all',
    falco: 'process state Falco tracks in userspace',
    hook: 'no selector',
    precision: 'none',
    map: 'none',
    feature: 'process state tracked in userspace (proc.*, thread.*)',
  },
  // The path opens on a full node (`--profile full`): one hook on security_file_open, whose file argument is the file reached.
  // Rows not listed here read on it as on the syscall (the hook runs in the calling task).
  {
    fields: ['fd.name', 'fs.path.name', 'fs.path.*'],
    events: kopen,
    falco: 'the path opened, made absolute (also when the open fails)',
    hook: "the file's path, resolved to the task's root: matchArgs Equal/Prefix/Postfix on security_file_open's file",
    precision: 'model',
    map: 'path',
    feature: 'fd.name',
    assumptions: ['symlinks', 'reached'],
  },
  {
    fields: ['fd.directory'],
    events: kopen,
    falco: 'the directory of the path opened',
    hook: "the file's resolved path: only `Prefix dir/` (also matches subdirectories)",
    precision: 'approx',
    map: 'directory',
    feature: 'fd.directory (no exact directory operator)',
    assumptions: ['symlinks', 'reached'],
  },
  {
    fields: ['fd.filename'],
    events: kopen,
    falco: 'the basename of the file opened; only when the open succeeds',
    hook: "the file's resolved path, Postfix `/name`",
    precision: 'model',
    map: 'filename',
    feature: 'fd.filename',
    assumptions: ['symlinks', 'reached'],
  },
  {
    fields: ['fd.num'],
    events: kopen,
    falco: 'the descriptor number; `fd.num >= 0` (open_read, open_write): the open succeeded',
    hook: 'the hook runs for opens that reached the file: `>= 0` is true, `< 0` false; other comparisons have no selector',
    precision: 'model',
    map: 'opened',
    feature: 'fd.num other than the success test',
    assumptions: ['reached'],
  },
  {
    fields: ['fd.nameraw', 'fd.typechar', 'fd.type', 'fd.*', 'fdlist.*'],
    events: kopen,
    falco: 'the name as passed; the type of the file opened (`f` regular file, `d` directory, ...); other descriptor state',
    hook: "weir's file reader reads the file's path only",
    precision: 'none',
    map: 'none',
    feature: 'fd.typechar/fd.nameraw at security_file_open (the file reader reads the path only)',
  },
  {
    fields: ['evt.is_open_write', 'evt.is_open_read', 'evt.is_open_create', 'evt.is_open_exec'],
    events: kopen,
    falco: 'the flags of the open (O_WRONLY, O_RDWR, O_CREAT, ...)',
    hook: "security_file_open has no flags argument and weir's file reader does not read the file's f_flags",
    precision: 'none',
    map: 'none',
    feature: 'evt.is_open_* at security_file_open (no flags argument)',
  },
  {
    fields: ['evt.arg.*', 'evt.rawarg.*', 'evt.arg[]', 'evt.rawarg[]'],
    events: kopen,
    falco: "the call's argument",
    hook: "security_file_open's only argument is the file: the syscall's arguments are not seen",
    precision: 'none',
    map: 'none',
    feature: 'evt.arg at security_file_open (the syscall arguments are not seen)',
  },
  // Files: fd.* exists only on calls that create or use a descriptor; for the path opens Falco takes it from the arguments.
  {
    fields: ['fd.name', 'fd.nameraw', 'fs.path.name'],
    events: open,
    falco: 'the path opened, made absolute (also when the open fails)',
    hook: 'the path argument: matchArgs Equal/Prefix/Postfix',
    precision: 'model',
    map: 'path',
    feature: 'fd.name',
    assumptions: ['paths'],
  },
  {
    fields: ['fd.directory'],
    events: open,
    falco: 'the directory of the path opened',
    hook: 'the path argument: only `Prefix dir/` (also matches subdirectories)',
    precision: 'approx',
    map: 'directory',
    feature: 'fd.directory (no exact directory operator)',
    assumptions: ['paths'],
  },
  {
    fields: ['fd.filename'],
    events: open,
    falco: 'the basename of the file opened; only when the open succeeds',
    hook: 'the attempt: the path argument, Postfix `/name`',
    precision: 'attempt',
    map: 'filename',
    feature: 'fd.filename (set only when the open succeeds)',
    assumptions: ['paths'],
  },
  {
    fields: ['fd.*', 'fdlist.*'],
    events: noFd,
    falco: 'absent: the call has no file descriptor',
    hook: 'every check on it is false',
    precision: 'absent',
    map: 'absent',
    feature: 'fd.* on a call without a descriptor',
  },
  {
    fields: ['fd.typechar', 'fd.type', 'fd.num', 'fd.*', 'fdlist.*'],
    events: ['open', ...fdCalls],
    falco: "the descriptor the call created or used, or the call's result",
    hook: 'not known at the entry of the call',
    precision: 'none',
    map: 'none',
    feature: 'fd.* of the result or of an earlier descriptor (fd.typechar, fd.num, sockets)',
  },
  {
    fields: ['fs.path.*'],
    events: 'all',
    falco: 'the paths of a file-system call, made absolute',
    hook: 'the path argument where the call has one',
    precision: 'model',
    map: 'path',
    feature: 'fs.path.*',
    assumptions: ['paths'],
  },
  // Arguments as passed; evt.arg resolves path arguments, evt.rawarg does not.
  {
    fields: ['evt.res', 'evt.rawres', 'evt.failed', 'evt.arg.res'],
    events: 'all',
    falco: "the call's result",
    hook: 'not known at the entry of the call',
    precision: 'none',
    map: 'none',
    feature: 'evt.res (result of the call)',
  },
  {
    fields: ['evt.arg.*', 'evt.rawarg.*', 'evt.arg[]', 'evt.rawarg[]'],
    events: 'all',
    falco: "the call's argument; evt.arg makes a path argument absolute, evt.rawarg does not",
    hook: 'the argument as passed: matchArgs (numbers, flags by name, strings)',
    precision: 'model',
    map: 'arg',
    feature: 'evt.arg',
    assumptions: ['paths'],
  },
  {
    fields: ['evt.is_open_write'],
    events: ['open'],
    falco: 'the open asked for writing (O_WRONLY or O_RDWR); false on creat',
    hook: 'the flags argument: Mask 3',
    precision: 'exact',
    map: 'open-write',
    feature: 'evt.is_open_write',
  },
  {
    fields: ['evt.is_open_create'],
    events: ['open'],
    falco: 'the open created the file (a result the driver reports)',
    hook: 'the attempt: the flags argument, Mask O_CREAT|O_TMPFILE',
    precision: 'attempt',
    map: 'open-create',
    feature: 'evt.is_open_create (a result of the open)',
  },
  {
    fields: ['evt.is_open_write', 'evt.is_open_create', 'evt.is_open_read', 'evt.is_open_exec'],
    events: ['exec', 'fd', 'nofd'],
    falco: 'false: the call is not an open',
    hook: 'the constant false',
    precision: 'exact',
    map: 'false-flag',
    feature: 'evt.is_open_*',
  },
  {
    fields: ['evt.is_open_read', 'evt.is_open_exec'],
    events: ['open'],
    falco: 'O_RDONLY or O_RDWR; exec bits of a created file',
    hook: 'O_RDONLY is 0: no Mask expresses it',
    precision: 'none',
    map: 'none',
    feature: 'evt.is_open_read/evt.is_open_exec',
  },
  {
    fields: ['evt.*'],
    events: 'all',
    falco: 'event metadata computed in userspace (buffers, latency, time, ...)',
    hook: 'no selector',
    precision: 'none',
    map: 'none',
    feature: 'evt.* metadata (buffers, time, latency)',
  },
  // Where the process runs: the same before and after an exec.
  {
    fields: ['container.id'],
    events: 'all',
    falco: "the caller's container, `host` outside containers",
    hook: '`!= host`: podSelector {}; `= host`: matchNamespaces Mnt host_ns',
    precision: 'model',
    map: 'container',
    feature: 'container.id',
    assumptions: ['pods', 'hostns'],
  },
  {
    fields: ['k8s.ns.name'],
    events: 'all',
    falco: "the caller's Kubernetes namespace",
    hook: 'a TracingPolicyNamespaced per namespace (positive `=`/`in` only)',
    precision: 'exact',
    map: 'k8s.ns',
    feature: 'k8s.ns.name',
  },
  {
    fields: ['container.*'],
    events: 'all',
    falco: 'container metadata from the container runtime',
    hook: 'no selector',
    precision: 'none',
    map: 'none',
    feature: 'container metadata (image, name, privileged, ...)',
  },
  {
    fields: ['k8s.*'],
    events: 'all',
    falco: 'Kubernetes metadata other than the namespace name',
    hook: 'no selector',
    precision: 'none',
    map: 'none',
    feature: 'Kubernetes metadata other than k8s.ns.name',
  },
  {
    fields: ['user.*', 'group.*'],
    events: 'all',
    falco: "the caller's user and group, after an exec of a setuid program the new ones",
    hook: 'no selector',
    precision: 'none',
    map: 'none',
    feature: 'user.*/group.*',
  },
];

const rowCache = new Map<string, FieldRow | null>();

/** The row for a field (name, and whether it has an argument) on a class of call. */
export function fieldRow(field: string, hasArg: boolean, cls: EventClass): FieldRow | undefined {
  const name = hasArg ? `${field}[]` : field;
  const key = `${name}|${cls}`;
  const hit = rowCache.get(key);
  if (hit !== undefined) return hit ?? undefined;
  const find = (c: EventClass, all: boolean) =>
    fieldRows.find(
      (r) =>
        (r.events === 'all' ? all : r.events.includes(c)) &&
        r.fields.some((f) => (f.endsWith('.*') ? name.startsWith(f.slice(0, -1)) : f === name)),
    );
  // security_file_open runs in the calling task: a field without a row of its own there reads as on the syscall.
  const found = cls === 'kopen' ? (find('kopen', false) ?? find('open', true)) : find(cls, true);
  rowCache.set(key, found ?? null);
  return found;
}

const evtClassWords: Record<EventClass, string> = {
  exec: 'execve, execveat',
  open: 'open, openat, openat2, creat',
  kopen: 'open, openat, openat2, creat at security_file_open (`--profile full`)',
  fd: 'other calls with a descriptor',
  nofd: 'calls without a descriptor',
};
const precisionWords: Record<Precision, string> = {
  exact: 'exact',
  model: 'exact, assuming',
  attempt: 'broader: the attempt',
  approx: 'broader',
  absent: 'exact: always false',
  none: 'not convertible',
};
const cell = (s: string) => s.replace(/\|/g, '\\|');

/** The table as docs/convert.md shows it. */
export function fieldTableMarkdown(): string {
  const out = [
    '| Falco field | on | Falco reads (at the exit of the call) | weir sees (at the entry) | verdict |',
    '|---|---|---|---|---|',
  ];
  for (const r of fieldRows) {
    const on = r.events === 'all' ? 'every call' : r.events.map((c) => evtClassWords[c]).join('; ');
    const fields = r.fields.map((f) => `\`${f}\``).join(', ');
    const note = r.assumptions ? ` ${r.assumptions.map((a) => `(${Object.keys(assumptions).indexOf(a) + 1})`).join(' ')}` : '';
    out.push(`| ${fields} | ${on} | ${cell(r.falco)} | ${cell(r.hook)} | ${precisionWords[r.precision]}${note} |`);
  }
  out.push('');
  Object.values(assumptions).forEach((a, i) => out.push(`- (${i + 1}) ${a}.`));
  return out.join('\n') + '\n';
}
