// Falco event types as Tetragon syscall hooks: the x86_64 syscall a Falco event comes from, and where its
// arguments sit (index and Tetragon type), named as Falco names the event parameters (evt.arg.<name>).

export interface SyscallArg {
  index: number;
  type: 'string' | 'int' | 'uint32' | 'uint64' | 'sockaddr' | 'file';
  /** Falco parameter names that read this argument (evt.arg.<name>). */
  names: readonly string[];
  /** The argument fd.name / fd.filename / fd.directory refer to on this call, when it takes a path. */
  path?: boolean;
  /** The open flags, where evt.is_open_write and O_* masks apply. */
  openFlags?: boolean;
}

export interface SyscallInfo {
  /** The Tetragon `call` (kprobe with `syscall: true`). */
  call: string;
  args: readonly SyscallArg[];
}

const s = (index: number, names: string[], extra: Partial<SyscallArg> = {}): SyscallArg => ({ index, type: 'string', names, ...extra });
const i = (index: number, names: string[], extra: Partial<SyscallArg> = {}): SyscallArg => ({ index, type: 'int', names, ...extra });

const table: Record<string, readonly SyscallArg[]> = {
  open: [s(0, ['name', 'path'], { path: true }), i(1, ['flags'], { openFlags: true }), i(2, ['mode'])],
  openat: [i(0, ['dirfd']), s(1, ['name', 'path'], { path: true }), i(2, ['flags'], { openFlags: true }), i(3, ['mode'])],
  openat2: [i(0, ['dirfd']), s(1, ['name', 'path'], { path: true })],
  creat: [s(0, ['name', 'path'], { path: true }), i(1, ['mode'])],
  open_by_handle_at: [i(0, ['mountfd']), i(2, ['flags'], { openFlags: true })],
  execve: [s(0, ['filename', 'exe'], { path: true })],
  execveat: [i(0, ['dirfd']), s(1, ['pathname', 'filename'], { path: true }), i(4, ['flags'])],
  unlink: [s(0, ['path', 'name'], { path: true })],
  unlinkat: [i(0, ['dirfd']), s(1, ['name', 'path'], { path: true }), i(2, ['flags'])],
  rename: [s(0, ['oldpath'], { path: true }), s(1, ['newpath'])],
  renameat: [i(0, ['olddirfd']), s(1, ['oldpath'], { path: true }), i(2, ['newdirfd']), s(3, ['newpath'])],
  renameat2: [i(0, ['olddirfd']), s(1, ['oldpath'], { path: true }), i(2, ['newdirfd']), s(3, ['newpath']), i(4, ['flags'])],
  mkdir: [s(0, ['path'], { path: true }), i(1, ['mode'])],
  mkdirat: [i(0, ['dirfd']), s(1, ['path'], { path: true }), i(2, ['mode'])],
  rmdir: [s(0, ['path'], { path: true })],
  symlink: [s(0, ['target']), s(1, ['linkpath'], { path: true })],
  symlinkat: [s(0, ['target']), i(1, ['linkdirfd']), s(2, ['linkpath'], { path: true })],
  link: [s(0, ['oldpath']), s(1, ['newpath'], { path: true })],
  linkat: [i(0, ['olddir']), s(1, ['oldpath']), i(2, ['newdir']), s(3, ['newpath'], { path: true }), i(4, ['flags'])],
  chmod: [s(0, ['filename', 'path'], { path: true }), i(1, ['mode'])],
  fchmodat: [i(0, ['dirfd']), s(1, ['filename', 'path'], { path: true }), i(2, ['mode'])],
  fchmod: [i(0, ['fd']), i(1, ['mode'])],
  chown: [s(0, ['path'], { path: true }), i(1, ['uid']), i(2, ['gid'])],
  lchown: [s(0, ['path'], { path: true }), i(1, ['uid']), i(2, ['gid'])],
  fchownat: [i(0, ['dirfd']), s(1, ['pathname', 'path'], { path: true }), i(2, ['uid']), i(3, ['gid']), i(4, ['flags'])],
  fchown: [i(0, ['fd']), i(1, ['uid']), i(2, ['gid'])],
  truncate: [s(0, ['path'], { path: true })],
  chdir: [s(0, ['path'], { path: true })],
  chroot: [s(0, ['path'], { path: true })],
  pivot_root: [s(0, ['new_root'], { path: true }), s(1, ['put_old'])],
  mount: [s(0, ['dev']), s(1, ['dir'], { path: true }), s(2, ['type']), i(3, ['flags'])],
  umount2: [s(0, ['name'], { path: true }), i(1, ['flags'])],
  init_module: [],
  finit_module: [i(0, ['fd']), i(2, ['flags'])],
  delete_module: [s(0, ['name'])],
  ptrace: [i(0, ['request']), i(1, ['pid'])],
  setuid: [i(0, ['uid'])],
  setgid: [i(0, ['gid'])],
  setreuid: [i(0, ['ruid']), i(1, ['euid'])],
  setregid: [i(0, ['rgid']), i(1, ['egid'])],
  setresuid: [i(0, ['ruid']), i(1, ['euid']), i(2, ['suid'])],
  setresgid: [i(0, ['rgid']), i(1, ['egid']), i(2, ['sgid'])],
  setfsuid: [i(0, ['uid'])],
  setfsgid: [i(0, ['gid'])],
  capset: [],
  unshare: [i(0, ['flags'])],
  setns: [i(0, ['fd']), i(1, ['nstype'])],
  clone: [i(0, ['flags'])],
  clone3: [],
  fork: [],
  vfork: [],
  bpf: [i(0, ['cmd'])],
  memfd_create: [s(0, ['name']), i(1, ['flags'])],
  kill: [i(0, ['pid']), i(1, ['sig'])],
  tkill: [i(0, ['tid']), i(1, ['sig'])],
  tgkill: [i(0, ['pid']), i(1, ['tid']), i(2, ['sig'])],
  connect: [i(0, ['fd']), { index: 1, type: 'sockaddr', names: ['addr'] }],
  bind: [i(0, ['fd']), { index: 1, type: 'sockaddr', names: ['addr'] }],
  accept: [i(0, ['fd'])],
  accept4: [i(0, ['fd']), i(3, ['flags'])],
  listen: [i(0, ['fd']), i(1, ['backlog'])],
  socket: [i(0, ['domain']), i(1, ['type']), i(2, ['proto'])],
  socketpair: [i(0, ['domain']), i(1, ['type']), i(2, ['proto'])],
  sendto: [i(0, ['fd'])],
  sendmsg: [i(0, ['fd'])],
  recvfrom: [i(0, ['fd'])],
  recvmsg: [i(0, ['fd'])],
  read: [i(0, ['fd'])],
  write: [i(0, ['fd'])],
  pread64: [i(0, ['fd'])],
  pwrite64: [i(0, ['fd'])],
  close: [i(0, ['fd'])],
  dup: [i(0, ['fd'])],
  dup2: [i(0, ['oldfd']), i(1, ['newfd'])],
  dup3: [i(0, ['oldfd']), i(1, ['newfd']), i(2, ['flags'])],
  userfaultfd: [i(0, ['flags'])],
  mprotect: [i(2, ['prot'])],
  mmap: [i(2, ['prot']), i(3, ['flags'])],
  prctl: [i(0, ['option'])],
  process_vm_readv: [i(0, ['pid'])],
  process_vm_writev: [i(0, ['pid'])],
  fsconfig: [i(0, ['fd']), i(1, ['cmd'])],
  ioctl: [i(0, ['fd']), i(1, ['request'])],
  sethostname: [s(0, ['name'])],
  setsockopt: [i(0, ['fd']), i(1, ['level']), i(2, ['optname'])],
  copy_file_range: [i(0, ['fdin']), i(2, ['fdout'])],
  splice: [i(0, ['fd_in']), i(2, ['fd_out'])],
  utimensat: [i(0, ['dirfd']), s(1, ['pathname', 'path'], { path: true })],
  quotactl: [i(0, ['cmd']), s(1, ['special'])],
  seccomp: [i(0, ['operation']), i(1, ['flags'])],
  io_uring_setup: [],
  io_uring_enter: [i(0, ['fd'])],
  io_uring_register: [i(0, ['fd']), i(1, ['opcode'])],
  getsockopt: [i(0, ['fd'])],
  inotify_init: [],
  inotify_init1: [i(0, ['flags'])],
  epoll_create: [],
  epoll_create1: [i(0, ['flags'])],
  signalfd: [i(0, ['fd'])],
  signalfd4: [i(0, ['fd'])],
  eventfd: [],
  eventfd2: [],
  timerfd_create: [i(0, ['clockid'])],
  pipe: [],
  pipe2: [i(1, ['flags'])],
  brk: [],
  munmap: [],
  nanosleep: [],
  getdents: [i(0, ['fd'])],
  getdents64: [i(0, ['fd'])],
  fcntl: [i(0, ['fd']), i(1, ['cmd'])],
  getrlimit: [],
  setrlimit: [i(0, ['resource'])],
  prlimit64: [i(0, ['pid']), i(1, ['resource'])],
  flock: [i(0, ['fd']), i(1, ['operation'])],
  shutdown: [i(0, ['fd']), i(1, ['how'])],
  sendmmsg: [i(0, ['fd'])],
  recvmmsg: [i(0, ['fd'])],
  select: [],
  poll: [],
  ppoll: [],
  pselect6: [],
  epoll_wait: [],
  lseek: [i(0, ['fd'])],
  llseek: [i(0, ['fd'])],
  readv: [i(0, ['fd'])],
  writev: [i(0, ['fd'])],
  preadv: [i(0, ['fd'])],
  pwritev: [i(0, ['fd'])],
  sendfile: [i(0, ['out_fd']), i(1, ['in_fd'])],
  futex: [],
  stat: [s(0, ['path'], { path: true })],
  lstat: [s(0, ['path'], { path: true })],
  fstat: [i(0, ['fd'])],
  access: [s(0, ['name'], { path: true }), i(1, ['mode'])],
  getcwd: [],
  exit: [],
  exit_group: [],
  mlock: [],
  mlock2: [],
  munlock: [],
  mlockall: [],
  munlockall: [],
  semop: [],
  semget: [],
  semctl: [],
  getresuid: [],
  getresgid: [],
  getuid: [],
  geteuid: [],
  getgid: [],
  getegid: [],
};

/** Falco event type names that differ from the x86_64 syscall that produces them. */
const aliases: Record<string, string> = { umount: 'umount2', mmap2: 'mmap', _llseek: 'llseek' };

/** Falco events that are not syscalls (scheduler, container metadata, plugin and internal events): no hook exists. */
export const nonSyscallEvents = new Set([
  'container',
  'procexit',
  'switch',
  'signaldeliver',
  'pluginevent',
  'asyncevent',
  'notification',
  'infra',
  'drop',
  'sysdigevent',
  'page_fault',
  'cpu_hotplug',
  'k8s',
  'mesos',
  'tracer',
  'procinfo',
  'meta',
  'scapevent',
]);

export function syscallInfo(evt: string): SyscallInfo | undefined {
  const name = aliases[evt] ?? evt;
  if (nonSyscallEvents.has(evt)) return undefined;
  const args = Object.hasOwn(table, name) ? table[name]! : undefined;
  if (args) return { call: `sys_${name}`, args };
  // A real syscall weir has no argument table for: it can still be hooked, only not filtered on arguments.
  if (/^[a-z][a-z0-9_]*$/.test(name)) return { call: `sys_${name}`, args: [] };
  return undefined;
}

export function knownSyscalls(): string[] {
  return Object.keys(table);
}

/** Linux open(2) flag bits by name (x86_64), for `evt.arg.flags contains O_...` as a Mask. */
export const openFlagBits: Record<string, number> = {
  O_WRONLY: 0o1,
  O_RDWR: 0o2,
  O_CREAT: 0o100,
  O_EXCL: 0o200,
  O_NOCTTY: 0o400,
  O_TRUNC: 0o1000,
  O_APPEND: 0o2000,
  O_NONBLOCK: 0o4000,
  O_DSYNC: 0o10000,
  O_DIRECT: 0o40000,
  O_LARGEFILE: 0o100000,
  O_DIRECTORY: 0o200000,
  O_NOFOLLOW: 0o400000,
  O_NOATIME: 0o1000000,
  O_CLOEXEC: 0o2000000,
  O_PATH: 0o10000000,
  O_TMPFILE: 0o20000000,
};

/** clone/unshare namespace flags. */
export const cloneFlagBits: Record<string, number> = {
  CLONE_NEWNS: 0x00020000,
  CLONE_NEWCGROUP: 0x02000000,
  CLONE_NEWUTS: 0x04000000,
  CLONE_NEWIPC: 0x08000000,
  CLONE_NEWUSER: 0x10000000,
  CLONE_NEWPID: 0x20000000,
  CLONE_NEWNET: 0x40000000,
  CLONE_NEWTIME: 0x00000080,
};

export const ptraceRequests: Record<string, number> = {
  PTRACE_TRACEME: 0,
  PTRACE_PEEKTEXT: 1,
  PTRACE_PEEKDATA: 2,
  PTRACE_PEEKUSR: 3,
  PTRACE_POKETEXT: 4,
  PTRACE_POKEDATA: 5,
  PTRACE_POKEUSR: 6,
  PTRACE_CONT: 7,
  PTRACE_KILL: 8,
  PTRACE_SINGLESTEP: 9,
  PTRACE_GETREGS: 12,
  PTRACE_SETREGS: 13,
  PTRACE_ATTACH: 16,
  PTRACE_DETACH: 17,
  PTRACE_SYSCALL: 24,
  PTRACE_SETOPTIONS: 0x4200,
  PTRACE_SEIZE: 0x4206,
  PTRACE_INTERRUPT: 0x4207,
};

/** Other symbolic argument values Falco rules use, by name. */
export const otherConstants: Record<string, number> = {
  AF_UNIX: 1,
  AF_LOCAL: 1,
  AF_INET: 2,
  AF_INET6: 10,
  AF_NETLINK: 16,
  AF_PACKET: 17,
  S_ISUID: 0o4000,
  S_ISGID: 0o2000,
  S_ISVTX: 0o1000,
  BPF_MAP_CREATE: 0,
  BPF_PROG_LOAD: 5,
  BPF_BTF_LOAD: 18,
  PR_SET_NAME: 15,
  PR_SET_DUMPABLE: 4,
  PR_SET_SECCOMP: 22,
};

/** Arguments that hold one value of an enumeration, where Falco's `contains` means equality, not a bit test. */
export const enumArgs = new Set([
  'request',
  'cmd',
  'option',
  'sig',
  'domain',
  'type',
  'proto',
  'resource',
  'operation',
  'opcode',
  'level',
  'optname',
  'how',
  'clockid',
]);

/**
 * Which calls create or use a file descriptor, from the flags of libs' event table (driver/event_table.c:
 * EF_CREATES_FD, EF_USES_FD/EF_DESTROYS_FD). Falco's fd.* fields exist only on such events; on any other
 * call a check on fd.* is false.
 */
const fdCreating = new Set(
  'open openat openat2 creat open_by_handle_at bpf memfd_create accept accept4 socket socketpair dup dup2 dup3 userfaultfd io_uring_setup inotify_init inotify_init1 epoll_create epoll_create1 signalfd signalfd4 eventfd eventfd2 timerfd_create pipe pipe2'.split(
    ' ',
  ),
);
const fdUsing = new Set(
  'unlinkat mkdirat symlinkat fchmodat fchmod fchownat fchown finit_module setns connect bind listen sendto sendmsg recvfrom recvmsg read write pread64 pwrite64 close mmap fsconfig ioctl setsockopt copy_file_range splice io_uring_enter io_uring_register getsockopt getdents getdents64 fcntl flock shutdown sendmmsg recvmmsg lseek llseek readv writev preadv pwritev sendfile fstat'.split(
    ' ',
  ),
);
/** The calls whose fd.name Falco derives from the call's own path argument (also when the open fails). */
const pathOpens = new Set(['open', 'openat', 'openat2', 'creat']);

/**
 * How Falco's fields read on an event: the exec calls, the path opens, other fd calls, and calls without an fd.
 * `kopen`: the path opens hooked at the kernel's security_file_open (`weir convert --profile full`), whose
 * file argument is the file the open reached.
 */
export type EventClass = 'exec' | 'open' | 'kopen' | 'fd' | 'nofd';

export function eventClass(evt: string): EventClass {
  const name = aliases[evt] ?? evt;
  if (name === 'execve' || name === 'execveat') return 'exec';
  if (pathOpens.has(name)) return 'open';
  if (fdCreating.has(name) || fdUsing.has(name)) return 'fd';
  return 'nofd';
}
