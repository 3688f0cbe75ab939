// PodSecurityPolicy and Pod Security Standards → TracingPolicies for the fields that have a runtime analogue,
// and an explicit list of the fields only admission control can enforce (with the tool that covers them).
import type { KProbeSpec, Selector, TracingPolicy } from './tracing-policy.js';
import { validateTracingPolicy } from './tracing-policy.js';

export type PspVerdict = 'runtime' | 'partial' | 'admission-only';

export interface PspFieldReport {
  field: string;
  verdict: PspVerdict;
  /** Policies carrying the runtime analogue. */
  policies: string[];
  detail: string;
}

export interface PspConversion {
  source: string;
  policies: TracingPolicy[];
  fields: PspFieldReport[];
  problems: string[];
}

/** Linux capability numbers (include/uapi/linux/capability.h). */
export const capabilityNumbers: Record<string, number> = {
  CAP_CHOWN: 0,
  CAP_DAC_OVERRIDE: 1,
  CAP_DAC_READ_SEARCH: 2,
  CAP_FOWNER: 3,
  CAP_FSETID: 4,
  CAP_KILL: 5,
  CAP_SETGID: 6,
  CAP_SETUID: 7,
  CAP_SETPCAP: 8,
  CAP_LINUX_IMMUTABLE: 9,
  CAP_NET_BIND_SERVICE: 10,
  CAP_NET_BROADCAST: 11,
  CAP_NET_ADMIN: 12,
  CAP_NET_RAW: 13,
  CAP_IPC_LOCK: 14,
  CAP_IPC_OWNER: 15,
  CAP_SYS_MODULE: 16,
  CAP_SYS_RAWIO: 17,
  CAP_SYS_CHROOT: 18,
  CAP_SYS_PTRACE: 19,
  CAP_SYS_PACCT: 20,
  CAP_SYS_ADMIN: 21,
  CAP_SYS_BOOT: 22,
  CAP_SYS_NICE: 23,
  CAP_SYS_RESOURCE: 24,
  CAP_SYS_TIME: 25,
  CAP_SYS_TTY_CONFIG: 26,
  CAP_MKNOD: 27,
  CAP_LEASE: 28,
  CAP_AUDIT_WRITE: 29,
  CAP_AUDIT_CONTROL: 30,
  CAP_SETFCAP: 31,
  CAP_MAC_OVERRIDE: 32,
  CAP_MAC_ADMIN: 33,
  CAP_SYSLOG: 34,
  CAP_WAKE_ALARM: 35,
  CAP_BLOCK_SUSPEND: 36,
  CAP_AUDIT_READ: 37,
  CAP_PERFMON: 38,
  CAP_BPF: 39,
  CAP_CHECKPOINT_RESTORE: 40,
};

/** The capabilities container runtimes grant by default (containerd/CRI-O defaults), which PSP does not count as "added". */
export const runtimeDefaultCapabilities = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_RAW',
  'CAP_SYS_CHROOT',
  'CAP_MKNOD',
  'CAP_AUDIT_WRITE',
  'CAP_SETFCAP',
];

const admissionTool = 'Pod Security Admission, Kyverno or OPA Gatekeeper';

const admissionOnly: Record<string, string> = {
  volumes: 'volume types are decided when the pod is admitted',
  seLinux: 'SELinux labels are set by the runtime at container creation',
  fsGroup: 'fsGroup changes volume ownership at mount time',
  supplementalGroups: 'groups are fixed at container creation',
  runAsGroup: 'the primary group is fixed at container creation',
  allowedFlexVolumes: 'volume drivers are decided at admission',
  allowedCSIDrivers: 'volume drivers are decided at admission',
  allowedProcMountTypes: 'the /proc mount type is set at container creation',
  allowedUnsafeSysctls: 'sysctls are set at pod sandbox creation',
  forbiddenSysctls: 'sysctls are set at pod sandbox creation',
  defaultAddCapabilities: 'a mutation of the pod spec',
  defaultAllowPrivilegeEscalation: 'a mutation of the pod spec',
  hostPorts: 'host port bindings are set up by the CNI at pod creation',
  readOnlyRootFilesystem: 'the root filesystem is mounted read-only by the runtime; the kernel already refuses writes',
  runtimeClass: 'the runtime class is chosen at admission',
  'seccomp annotations': 'the seccomp profile is installed by the runtime at container start',
  'AppArmor annotations': 'the AppArmor profile is applied by the runtime at container start',
};

interface Builder {
  source: string;
  enforce: boolean;
  policies: TracingPolicy[];
  fields: PspFieldReport[];
  prefix: string;
}

function sel(s: Omit<Selector, 'matchActions'>, b: Builder): Selector {
  return { ...s, matchActions: [{ action: b.enforce ? 'Sigkill' : 'Post' }] };
}

function addPolicy(b: Builder, suffix: string, field: string, kprobes: KProbeSpec[]): string {
  const name = `${b.prefix}-${suffix}`
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .slice(0, 63)
    .replace(/-+$/, '');
  b.policies.push({
    apiVersion: 'cilium.io/v1alpha1',
    kind: 'TracingPolicy',
    metadata: { name, annotations: { 'weir.dev/source': b.source, 'weir.dev/psp-field': field } },
    spec: { podSelector: {}, kprobes },
  });
  return name;
}

const sys = (call: string, selectors: Selector[], args?: { index: number; type: string }[]): KProbeSpec => ({
  call,
  syscall: true,
  ...(args ? { args } : {}),
  selectors,
});

/** Converts one PodSecurityPolicy spec. `source` names it in annotations and the report. */
export function convertPsp(
  spec: Record<string, unknown>,
  source: string,
  prefix: string,
  opts: { enforce?: boolean; annotations?: Record<string, string> } = {},
): PspConversion {
  const b: Builder = { source, enforce: opts.enforce ?? false, policies: [], fields: [], prefix };
  const report = (field: string, verdict: PspVerdict, policies: string[], detail: string) =>
    b.fields.push({ field, verdict, policies, detail });

  if (spec['privileged'] !== true) {
    const devs = ['/dev/mem', '/dev/kmem', '/dev/port', '/dev/sd', '/dev/nvme', '/dev/vd', '/dev/xvd', '/dev/dm-', '/dev/loop'];
    const name = addPolicy(b, 'privileged', 'privileged', [
      sys('sys_mount', [sel({}, b)]),
      sys('sys_umount2', [sel({}, b)]),
      sys('sys_pivot_root', [sel({}, b)]),
      sys('sys_init_module', [sel({}, b)]),
      sys('sys_finit_module', [sel({}, b)]),
      sys('sys_bpf', [sel({}, b)]),
      sys('sys_openat', [sel({ matchArgs: [{ index: 1, operator: 'Prefix', values: devs }] }, b)], [{ index: 1, type: 'string' }]),
    ]);
    report(
      'privileged',
      'runtime',
      [name],
      'privileged=false: mount, umount, pivot_root, module loading, bpf and opening raw block/memory devices are denied in pods',
    );
  } else report('privileged', 'runtime', [], 'privileged=true allows everything: no policy');

  if (spec['allowPrivilegeEscalation'] === false) {
    const root = [{ index: 0, operator: 'Equal' as const, values: ['0'] }];
    const name = addPolicy(b, 'no-privilege-escalation', 'allowPrivilegeEscalation', [
      sys('sys_setuid', [sel({ matchArgs: root }, b)], [{ index: 0, type: 'int' }]),
      sys('sys_setgid', [sel({ matchArgs: root }, b)], [{ index: 0, type: 'int' }]),
      sys('sys_setreuid', [sel({ matchArgs: [{ index: 1, operator: 'Equal', values: ['0'] }] }, b)], [{ index: 1, type: 'int' }]),
      sys('sys_setresuid', [sel({ matchArgs: [{ index: 1, operator: 'Equal', values: ['0'] }] }, b)], [{ index: 1, type: 'int' }]),
      sys('sys_capset', [sel({}, b)]),
    ]);
    report(
      'allowPrivilegeEscalation',
      'partial',
      [name],
      'setuid/setgid to root and capset are denied; gaining privilege by executing a setuid binary (no_new_privs) has no syscall-argument analogue and stays with admission',
    );
  }

  const required = strings(spec['requiredDropCapabilities']).map(capName);
  const allowed = strings(spec['allowedCapabilities']).map(capName);
  const defaults = strings(spec['defaultAddCapabilities']).map(capName);
  if (required.length > 0) {
    // Dropping ALL and adding some back (the restricted level's NET_BIND_SERVICE) leaves the added ones usable.
    const all = required.includes('CAP_ALL') ? Object.keys(capabilityNumbers).filter((c) => !allowed.includes(c)) : required;
    const name = addCapabilityPolicy(b, 'drop-capabilities', 'requiredDropCapabilities', all);
    report(
      'requiredDropCapabilities',
      'runtime',
      name,
      `a pod process holding ${required.includes('CAP_ALL') ? `any capability${allowed.length ? ` except ${allowed.join(', ')}` : ''}` : all.join(', ')} in its effective set is ${b.enforce ? 'killed' : 'reported'} when it executes a program (execve, matchCapabilities)`,
    );
  }
  if (required.includes('CAP_ALL') && spec['allowedCapabilities'] !== undefined)
    report('allowedCapabilities', 'runtime', [], 'covered by requiredDropCapabilities: ALL (everything not allowed is denied)');
  else if (spec['allowedCapabilities'] !== undefined && !allowed.includes('CAP_*')) {
    const permitted = new Set([...runtimeDefaultCapabilities, ...allowed, ...defaults].filter((c) => !required.includes(c)));
    const denied = Object.keys(capabilityNumbers).filter((c) => !permitted.has(c) && !required.includes(c));
    const name = addCapabilityPolicy(b, 'allowed-capabilities', 'allowedCapabilities', denied);
    report(
      'allowedCapabilities',
      'runtime',
      name,
      `a pod process holding a capability outside the runtime defaults and ${allowed.join(', ') || 'nothing more'} is ${b.enforce ? 'killed' : 'reported'} when it executes a program (execve, matchCapabilities)`,
    );
  }

  for (const [field, ns] of [
    ['hostNetwork', 'Net'],
    ['hostPID', 'Pid'],
    ['hostIPC', 'Ipc'],
  ] as const) {
    if (spec[field] === true) continue;
    const name = addPolicy(b, `no-${field}`, field, [
      sys('sys_execve', [sel({ matchNamespaces: [{ namespace: ns, operator: 'In', values: ['host_ns'] }] }, b)]),
    ]);
    report(field, 'runtime', [name], `a pod process executing in the host ${ns} namespace is ${b.enforce ? 'killed' : 'reported'}`);
  }

  const rau = spec['runAsUser'] as Record<string, unknown> | undefined;
  if (rau && typeof rau === 'object') {
    const rule = rau['rule'];
    if (rule === 'MustRunAsNonRoot') {
      const name = addPolicy(b, 'run-as-non-root', 'runAsUser', [
        sys('sys_setuid', [sel({ matchArgs: [{ index: 0, operator: 'Equal', values: ['0'] }] }, b)], [{ index: 0, type: 'int' }]),
      ]);
      report(
        'runAsUser',
        'partial',
        [name],
        'setuid(0) is denied; the uid a container starts with is decided at admission (no credential selector on exec)',
      );
    } else if (rule === 'MustRunAs') {
      const ranges = Array.isArray(rau['ranges']) ? (rau['ranges'] as { min?: number; max?: number }[]) : [];
      const min = Math.min(...ranges.map((r) => Number(r.min ?? 0)));
      const max = Math.max(...ranges.map((r) => Number(r.max ?? 0)));
      if (ranges.length > 0 && Number.isFinite(min) && Number.isFinite(max)) {
        const name = addPolicy(b, 'run-as-user-range', 'runAsUser', [
          sys(
            'sys_setuid',
            [
              sel({ matchArgs: [{ index: 0, operator: 'LT', values: [String(min)] }] }, b),
              sel({ matchArgs: [{ index: 0, operator: 'GT', values: [String(max)] }] }, b),
            ],
            [{ index: 0, type: 'int' }],
          ),
        ]);
        report(
          'runAsUser',
          'partial',
          [name],
          `setuid outside ${min}..${max} is denied${ranges.length > 1 ? ' (gaps between ranges are not; the hull is used)' : ''}; the start uid is decided at admission`,
        );
      }
    } else report('runAsUser', 'admission-only', [], `rule ${String(rule)} constrains nothing at runtime`);
  }

  const hostPaths = Array.isArray(spec['allowedHostPaths'])
    ? (spec['allowedHostPaths'] as { pathPrefix?: string; readOnly?: boolean }[])
    : [];
  const ro = hostPaths.filter((h) => h.readOnly === true && typeof h.pathPrefix === 'string').map((h) => h.pathPrefix!.replace(/\/$/, ''));
  if (ro.length > 0) {
    const prefixes = ro.flatMap((p) => [p, `${p}/`]);
    const writeMask = [{ index: 2, operator: 'Mask' as const, values: ['3'] }];
    const name = addPolicy(b, 'read-only-host-paths', 'allowedHostPaths', [
      sys(
        'sys_openat',
        [sel({ matchArgs: [{ index: 1, operator: 'Prefix', values: prefixes }, ...writeMask] }, b)],
        [
          { index: 1, type: 'string' },
          { index: 2, type: 'int' },
        ],
      ),
      sys('sys_unlinkat', [sel({ matchArgs: [{ index: 1, operator: 'Prefix', values: prefixes }] }, b)], [{ index: 1, type: 'string' }]),
      sys('sys_renameat2', [sel({ matchArgs: [{ index: 1, operator: 'Prefix', values: prefixes }] }, b)], [{ index: 1, type: 'string' }]),
      sys('sys_mkdirat', [sel({ matchArgs: [{ index: 1, operator: 'Prefix', values: prefixes }] }, b)], [{ index: 1, type: 'string' }]),
    ]);
    report(
      'allowedHostPaths',
      'partial',
      [name],
      `writes under ${ro.join(', ')} are denied; the path is matched as the process sees it, which equals the host path only where the volume is mounted at the same path`,
    );
  }

  for (const [field, why] of Object.entries(admissionOnly)) {
    const present = field.endsWith('annotations')
      ? Object.keys(opts.annotations ?? {}).some((k) => k.includes(field.startsWith('seccomp') ? 'seccomp' : 'apparmor'))
      : spec[field] !== undefined;
    if (present) report(field, 'admission-only', [], `${why}: not enforceable at runtime; use ${admissionTool}`);
  }
  const problems = b.policies.flatMap((p) => validateTracingPolicy(p).map((x) => `${p.metadata.name}: ${x}`));
  return { source, policies: b.policies, fields: b.fields, problems };
}

function addCapabilityPolicy(b: Builder, suffix: string, field: string, caps: string[]): string[] {
  // PSP constrains the capability sets a container gets; at runtime that is what a pod process holds when it
  // executes a program: execve with matchCapabilities Effective In the forbidden set.
  const known = caps.filter((c) => capabilityNumbers[c] !== undefined);
  if (known.length === 0) return [];
  return [
    addPolicy(b, suffix, field, [
      sys('sys_execve', [sel({ matchCapabilities: [{ type: 'Effective', operator: 'In', values: known }] }, b)]),
    ]),
  ];
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.map(String) : [];
}

function capName(c: string): string {
  const u = c.toUpperCase();
  return u === '*' ? 'CAP_*' : u.startsWith('CAP_') ? u : `CAP_${u}`;
}

/** Pod Security Standards as PodSecurityPolicy specs (the levels' controls written as the PSP fields they came from). */
export function pssSpec(level: 'baseline' | 'restricted'): { spec: Record<string, unknown>; extra: PspFieldReport[] } {
  const baseline: Record<string, unknown> = {
    privileged: false,
    hostNetwork: false,
    hostPID: false,
    hostIPC: false,
    allowedCapabilities: [],
    allowedProcMountTypes: ['Default'],
    hostPorts: [],
    forbiddenSysctls: ['*'],
  };
  const extra: PspFieldReport[] = [
    {
      field: 'hostPath volumes',
      verdict: 'admission-only',
      policies: [],
      detail: `baseline forbids hostPath volumes: decided at admission; use ${admissionTool}`,
    },
    {
      field: 'AppArmor annotations',
      verdict: 'admission-only',
      policies: [],
      detail: `baseline forbids overriding the default AppArmor profile: applied at container start; use ${admissionTool}`,
    },
    {
      field: 'seLinux',
      verdict: 'admission-only',
      policies: [],
      detail: `baseline restricts SELinux options: set at container creation; use ${admissionTool}`,
    },
    {
      field: 'seccomp annotations',
      verdict: 'admission-only',
      policies: [],
      detail: `${level === 'restricted' ? 'restricted requires RuntimeDefault or Localhost' : 'baseline forbids Unconfined'} seccomp: installed at container start; use ${admissionTool}`,
    },
  ];
  if (level === 'baseline') return { spec: baseline, extra };
  return {
    spec: {
      ...baseline,
      allowPrivilegeEscalation: false,
      requiredDropCapabilities: ['ALL'],
      allowedCapabilities: ['NET_BIND_SERVICE'],
      runAsUser: { rule: 'MustRunAsNonRoot' },
      volumes: ['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret'],
    },
    extra,
  };
}
