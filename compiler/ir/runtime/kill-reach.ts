// What a matchBinaries selector can match on a host: the guard against host-wide kills asks it
// whether a Sigkill could reach init, the node's daemons or a shell. It reasons over the operator
// (In, NotIn, Prefix, NotPrefix, Postfix, NotPostfix) and a list of paths every Kubernetes node has.

/** matchBinaries operators (Tetragon's). */
export const binaryOperators = ['In', 'NotIn', 'Prefix', 'NotPrefix', 'Postfix', 'NotPostfix'] as const;
export type BinaryOperator = (typeof binaryOperators)[number];

/** Executables whose death takes a node (or its control path) down: init, daemons, runtimes, shells, weir's own runtime. */
export const criticalBinaries: readonly string[] = [
  '/sbin/init',
  '/usr/sbin/init',
  '/lib/systemd/systemd',
  '/usr/lib/systemd/systemd',
  '/usr/lib/systemd/systemd-journald',
  '/usr/lib/systemd/systemd-udevd',
  '/usr/lib/systemd/systemd-logind',
  '/usr/sbin/sshd',
  '/usr/bin/sshd',
  '/usr/sbin/cron',
  '/usr/sbin/crond',
  '/usr/bin/dbus-daemon',
  '/usr/sbin/rsyslogd',
  '/usr/sbin/chronyd',
  '/sbin/agetty',
  '/usr/bin/sudo',
  '/bin/su',
  '/usr/bin/su',
  '/bin/login',
  '/usr/bin/kubelet',
  '/usr/local/bin/kubelet',
  '/usr/bin/containerd',
  '/usr/local/bin/containerd',
  '/usr/bin/containerd-shim-runc-v2',
  '/usr/local/bin/containerd-shim-runc-v2',
  '/usr/bin/runc',
  '/usr/sbin/runc',
  '/usr/local/sbin/runc',
  '/usr/bin/dockerd',
  '/usr/bin/crio',
  '/usr/bin/conmon',
  '/pause',
  '/usr/bin/node',
  '/usr/local/bin/node',
  '/bin/sh',
  '/bin/bash',
  '/bin/dash',
  '/bin/ash',
  '/bin/zsh',
  '/bin/ksh',
  '/bin/csh',
  '/bin/tcsh',
  '/bin/fish',
  '/bin/busybox',
  '/usr/bin/sh',
  '/usr/bin/bash',
  '/usr/bin/dash',
  '/usr/bin/zsh',
  '/usr/bin/ksh',
  '/usr/bin/fish',
  '/usr/bin/busybox',
];

/** Folders of system executables: a prefix that covers one of them covers every program in it. */
export const systemDirs: readonly string[] = [
  '/bin/',
  '/sbin/',
  '/usr/bin/',
  '/usr/sbin/',
  '/usr/lib/',
  '/usr/libexec/',
  '/lib/',
  '/lib64/',
  '/usr/local/bin/',
  '/usr/local/sbin/',
  '/opt/',
  '/snap/',
];

/**
 * Critical binaries and system folders a matchBinaries entry can match (empty: none of them, the
 * entry names specific programs). NotIn/NotPrefix/NotPostfix match everything they do not exclude.
 */
export function binaryReach(operator: BinaryOperator, values: readonly string[]): string[] {
  const hit = (p: string): boolean => {
    switch (operator) {
      case 'In':
        return values.includes(p);
      case 'NotIn':
        return !values.includes(p);
      case 'Prefix':
        return values.some((v) => p.startsWith(v));
      case 'NotPrefix':
        return !values.some((v) => p.startsWith(v));
      case 'Postfix':
        return values.some((v) => p.endsWith(v));
      case 'NotPostfix':
        return !values.some((v) => p.endsWith(v));
    }
  };
  const out = criticalBinaries.filter(hit);
  // A prefix that stops at or above a system folder ("/", "/usr/") covers all of it.
  if (operator === 'Prefix') for (const d of systemDirs) if (values.some((v) => d.startsWith(v)) && !out.includes(d)) out.push(d);
  return out;
}
