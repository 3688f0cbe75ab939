// Rule in, TracingPolicy selectors out: one row per mapping the converter makes.
import { describe, expect, it } from 'vitest';
import { isFalcoRules, loadSources } from '../../compiler/load/index.js';
import { convertFalco, type ConvertOptions } from '../../compiler/convert/falco/index.js';
import { validateTracingPolicy, type TracingPolicy } from '../../compiler/convert/tracing-policy.js';

const enc = new TextEncoder();

function conv(condition: string, opts: ConvertOptions = {}, extra = '', priority = 'WARNING') {
  const text = `- list: shells\n  items: [sh, bash]\n- macro: never_true\n  condition: (evt.num=0)\n- rule: r\n  desc: d\n  condition: ${JSON.stringify(condition)}\n  output: o\n  priority: ${priority}\n${extra}`;
  const l = loadSources([{ file: 'r.yaml', bytes: enc.encode(text) }]);
  const c = convertFalco(l.documents.filter(isFalcoRules), l.sources, opts);
  for (const p of c.policies) expect(validateTracingPolicy(p.policy)).toEqual([]);
  return { report: c.reports[0]!, policies: c.policies.map((p) => p.policy), diagnostics: c.diagnostics };
}
const hooks = (p: TracingPolicy) => p.spec.kprobes!.map((k) => k.call);
const sel = (p: TracingPolicy, call: string) =>
  p.spec.kprobes!.find((k) => k.call === call)!.selectors!.map(({ matchActions: _a, ...s }) => s);

describe('event types to hooks (and intersects, or unions, negation at the leaves)', () => {
  it.each([
    ['evt.type in (open, openat) and not evt.type = open', ['sys_openat']],
    ['not evt.type != execve', ['sys_execve']],
    ['evt.type = execve or evt.type = execveat', ['sys_execve', 'sys_execveat']],
    ['(evt.type in (open, openat) or evt.type = creat) and evt.type != open', ['sys_creat', 'sys_openat']],
    ['evt.type = umount', ['sys_umount2']],
  ])('%s', (cond, expected) => {
    const r = conv(cond);
    expect(r.report.verdict).toBe('exact');
    expect(hooks(r.policies[0]!).sort()).toEqual(expected);
  });
  it('refuses a condition that does not restrict evt.type', () => {
    const r = conv('evt.type = open or proc.name = x');
    expect(r.report.verdict).toBe('not-convertible');
    expect(r.report.reasons[0]).toContain('does not restrict evt.type');
  });
  it('refuses event types that are not syscalls', () => {
    expect(conv('evt.type = container').report.reasons[0]).toContain('event type container is not a syscall');
  });
  it('reads the never_true idiom (evt.num=0) as false, so `not never_true` is exact', () => {
    expect(conv('evt.type = execve and not never_true').report.verdict).toBe('exact');
    expect(conv('evt.type = execve and never_true').report.reasons[0]).toContain('can never be true');
  });
});

describe('fields to selectors', () => {
  it.each([
    [
      'evt.type = openat and fd.name = /etc/shadow',
      'sys_openat',
      [{ matchArgs: [{ index: 1, operator: 'Equal', values: ['/etc/shadow'] }] }],
    ],
    ['evt.type = open and fd.name startswith /etc/', 'sys_open', [{ matchArgs: [{ index: 0, operator: 'Prefix', values: ['/etc/'] }] }]],
    [
      'evt.type = openat and not fd.name endswith .log',
      'sys_openat',
      [{ matchArgs: [{ index: 1, operator: 'NotPostfix', values: ['.log'] }] }],
    ],
    ['evt.type = openat and fd.name glob "/etc/*"', 'sys_openat', [{ matchArgs: [{ index: 1, operator: 'Prefix', values: ['/etc/'] }] }]],
    [
      'evt.type = openat and fd.name pmatch (/etc)',
      'sys_openat',
      [
        { matchArgs: [{ index: 1, operator: 'Equal', values: ['/etc'] }] },
        { matchArgs: [{ index: 1, operator: 'Prefix', values: ['/etc/'] }] },
      ],
    ],
    [
      'evt.type = openat and not fd.name pmatch (/etc)',
      'sys_openat',
      [
        {
          matchArgs: [
            { index: 1, operator: 'NotEqual', values: ['/etc'] },
            { index: 1, operator: 'NotPrefix', values: ['/etc/'] },
          ],
        },
      ],
    ],
    ['evt.type = ptrace and proc.name in (shells)', 'sys_ptrace', [{ matchBinaries: [{ operator: 'Postfix', values: ['/sh', '/bash'] }] }]],
    [
      'evt.type = ptrace and not proc.name in (shells)',
      'sys_ptrace',
      [{ matchBinaries: [{ operator: 'NotPostfix', values: ['/sh', '/bash'] }] }],
    ],
    [
      'evt.type = ptrace and proc.name in (shells) and proc.name != sh',
      'sys_ptrace',
      [{ matchBinaries: [{ operator: 'Postfix', values: ['/bash'] }] }],
    ],
    [
      'evt.type = unshare and thread.cap_effective contains CAP_SYS_ADMIN',
      'sys_unshare',
      [{ matchCapabilities: [{ type: 'Effective', operator: 'In', values: ['CAP_SYS_ADMIN'] }] }],
    ],
    [
      'evt.type = execve and container.id = host',
      'sys_execve',
      [{ matchNamespaces: [{ namespace: 'Mnt', operator: 'In', values: ['host_ns'] }] }],
    ],
    ['evt.type = openat and evt.is_open_write = true', 'sys_openat', [{ matchArgs: [{ index: 2, operator: 'Mask', values: ['3'] }] }]],
    [
      'evt.type = openat and evt.arg.flags contains O_TRUNC',
      'sys_openat',
      [{ matchArgs: [{ index: 2, operator: 'Mask', values: ['512'] }] }],
    ],
    [
      'evt.type = unshare and evt.arg.flags contains CLONE_NEWUSER',
      'sys_unshare',
      [{ matchArgs: [{ index: 0, operator: 'Mask', values: ['268435456'] }] }],
    ],
    [
      'evt.type = ptrace and evt.arg.request contains PTRACE_ATTACH',
      'sys_ptrace',
      [{ matchArgs: [{ index: 0, operator: 'Equal', values: ['16'] }] }],
    ],
    ['evt.type = setuid and evt.arg.uid <= 999', 'sys_setuid', [{ matchArgs: [{ index: 0, operator: 'LT', values: ['1000'] }] }]],
    ['evt.type = setuid and not evt.arg.uid < 1000', 'sys_setuid', [{ matchArgs: [{ index: 0, operator: 'GT', values: ['999'] }] }]],
  ])('%s', (cond, call, selectors) => {
    const r = conv(cond);
    expect(r.report.verdict, r.report.reasons.join('; ')).toBe('exact');
    expect(sel(r.policies[0]!, call)).toEqual(selectors);
  });

  it('reads evt.is_open_write as false on creat, as Falco does (it reads the flags of open, openat and openat2)', () => {
    const r = conv('evt.type in (openat, creat) and evt.is_open_write = true and fd.name = /x');
    expect(r.report.verdict).toBe('exact');
    expect(r.report.hooks).toEqual(['openat']);
    const neg = conv('evt.type = creat and evt.is_open_write = false and fd.name = /x');
    expect(sel(neg.policies[0]!, 'sys_creat')).toEqual([{ matchArgs: [{ index: 0, operator: 'Equal', values: ['/x'] }] }]);
  });

  it('scopes container.id != host to pods and k8s.ns.name to namespaced policies', () => {
    const pod = conv('evt.type = ptrace and container.id != host and proc.name = nc');
    expect(pod.policies[0]!.spec.podSelector).toEqual({});
    expect(pod.policies[0]!.kind).toBe('TracingPolicy');
    const ns = conv('evt.type = ptrace and k8s.ns.name in (prod, staging) and proc.name = nc');
    expect(ns.policies.map((p) => [p.kind, p.metadata.namespace])).toEqual([
      ['TracingPolicyNamespaced', 'prod'],
      ['TracingPolicyNamespaced', 'staging'],
    ]);
  });

  it('splits numeric Equal over more than 4 values across selectors', () => {
    const r = conv('evt.type = kill and evt.arg.sig in (1, 2, 3, 9, 15, 19)');
    expect(sel(r.policies[0]!, 'sys_kill').map((s) => s.matchArgs![0]!.values)).toEqual([
      ['1', '2', '3', '9'],
      ['15', '19'],
    ]);
  });

  it('splits across policies when a hook would need more than 5 selectors', () => {
    const alts = Array.from({ length: 7 }, (_, i) => `fd.name startswith /d${i}/ and proc.name = p${i}`).join(' or ');
    const r = conv(`evt.type = openat and (${alts})`);
    expect(r.report.verdict).toBe('exact');
    expect(r.policies.map((p) => sel(p, 'sys_openat').length)).toEqual([5, 2]);
    expect(r.policies.map((p) => p.metadata.name)).toEqual(['falco-r', 'falco-r-2']);
  });
});

describe('terms Tetragon cannot express: never dropped silently', () => {
  it.each([
    ['evt.type = execve and proc.cmdline contains "-jar"', 'command line'],
    ['evt.type = execve and proc.aname = sshd', 'no selector walks the process tree'],
    ['evt.type = execve and proc.aname[2] = sshd', 'no selector walks the process tree'],
    ['evt.type = execve and proc.exepath = /usr/bin/nc', 'unresolved'],
    ['evt.type = execve and thread.cap_effective contains CAP_SYS_ADMIN', 'an exec recomputes them'],
    ['evt.type = openat and fd.filename in (shadow, passwd)', 'only when the open succeeds'],
    ['evt.type = execve and proc.name regex "^x"', 'regular-expression'],
    ['evt.type = execve and container.image.repository = nginx', 'container runtime'],
    ['evt.type = openat and fd.name contains ssh', 'substring'],
    ['evt.type = openat and tolower(fd.name) = /x', 'transformer'],
    ['evt.type = connect and fd.sport = 22', 'not known at the entry of the call'],
  ])('%s', (cond, reason) => {
    const r = conv(cond);
    expect(r.report.verdict).toBe('not-convertible');
    expect(r.policies).toEqual([]);
    expect(r.report.reasons.join('\n')).toContain(reason);
  });

  it('with --allow-broader drops the term, says so, and annotates the policy', () => {
    const r = conv('evt.type = ptrace and proc.name = java and proc.cmdline contains "-jar"', { allowBroader: true });
    expect(r.report.verdict).toBe('broader');
    expect(r.report.reasons[0]).toContain('proc.cmdline contains "-jar" dropped');
    expect(r.report.blockedBy).toEqual(['proc.cmdline/proc.args (argv)']);
    expect(r.policies[0]!.metadata.annotations!['weir.dev/conversion']).toBe('broader');
    expect(sel(r.policies[0]!, 'sys_ptrace')).toEqual([{ matchBinaries: [{ operator: 'Postfix', values: ['/java'] }] }]);
  });

  it('uses the closest over-approximation where one exists (fd.directory → Prefix)', () => {
    const r = conv('evt.type = openat and fd.directory = /etc', { allowBroader: true });
    expect(r.report.verdict).toBe('broader');
    expect(sel(r.policies[0]!, 'sys_openat')).toEqual([{ matchArgs: [{ index: 1, operator: 'Prefix', values: ['/etc/'] }] }]);
  });

  it('refuses even with --allow-broader when nothing selective would remain', () => {
    const r = conv('evt.type = execve and proc.cmdline contains x', { allowBroader: true });
    expect(r.report.verdict).toBe('not-convertible');
    expect(r.report.reasons.at(-1)).toContain('nothing selective remains');
  });

  it('needs at most 25 alternatives; --allow-broader drops the largest exclusions until it fits', () => {
    const excl = Array.from({ length: 6 }, (_, i) => `not (proc.name = p${i} and fd.name startswith /d${i}/)`).join(' and ');
    const cond = `evt.type = openat and fd.name startswith /etc/ and ${excl}`;
    const exact = conv(cond);
    expect(exact.report.verdict).toBe('not-convertible');
    expect(exact.report.reasons.at(-1)).toContain('more than 25 alternatives');
    const broad = conv(cond, { allowBroader: true });
    expect(broad.report.verdict).toBe('broader');
    expect(broad.report.reasons).toEqual([
      'not (proc.name = p0 and fd.name startswith /d0/) dropped (expanding it needs more than 25 selectors per hook)',
      'not (proc.name = p1 and fd.name startswith /d1/) dropped (expanding it needs more than 25 selectors per hook)',
    ]);
    expect(broad.policies.map((p) => sel(p, 'sys_openat').length)).toEqual([5, 5, 5, 1]);
  });

  it('reports plugin sources as not convertible', () => {
    const r = conv('ka.verb = create', {}, '  source: k8s_audit\n');
    expect(r.report.verdict).toBe('not-convertible');
    expect(r.report.reasons[0]).toContain('plugin event source');
  });
});

describe('actions: Post by default, Sigkill only when asked', () => {
  const cond = 'evt.type = openat and fd.name = /etc/shadow and proc.name = cat';
  const actions = (p: TracingPolicy) => p.spec.kprobes!.flatMap((k) => k.selectors!.flatMap((s) => s.matchActions!.map((a) => a.action)));
  it('posts by default', () => expect(actions(conv(cond).policies[0]!)).toEqual(['Post']));
  it('kills when the priority reaches --enforce priority>=CRITICAL', () => {
    expect(actions(conv(cond, { enforce: { minPriority: 'CRITICAL', rules: new Set() } }, '', 'CRITICAL').policies[0]!)).toEqual([
      'Sigkill',
    ]);
    expect(actions(conv(cond, { enforce: { minPriority: 'CRITICAL', rules: new Set() } }, '', 'ERROR').policies[0]!)).toEqual(['Post']);
  });
  it('kills a rule named with --enforce rule=NAME', () => {
    expect(actions(conv(cond, { enforce: { rules: new Set(['r']) } }).policies[0]!)).toEqual(['Sigkill']);
  });
  it('never kills on a broader conversion', () => {
    const r = conv(`${cond} and proc.cmdline contains x`, { allowBroader: true, enforce: { rules: new Set(['r']) } });
    expect(actions(r.policies[0]!)).toEqual(['Post']);
    expect(r.report.notes.join()).toContain('Sigkill withheld: a broader conversion');
  });
  it('withholds a host-wide kill unless --allow-host-wide-kill, which annotates the policy', () => {
    const host = 'evt.type = openat and fd.name = /etc/shadow and not proc.name = vipw';
    const r = conv(host, { enforce: { rules: new Set(['r']) } });
    expect(actions(r.policies[0]!)).toEqual(['Post']);
    expect(r.report.notes.join()).toContain('would kill host-wide');
    const k = conv(host, { enforce: { rules: new Set(['r']) }, allowHostWideKill: true });
    expect(actions(k.policies[0]!)).toEqual(['Sigkill']);
    expect(k.policies[0]!.metadata.annotations!['weir.dev/allow-host-wide-kill']).toBe('true');
    const pod = conv(`${host} and container.id != host`, { enforce: { rules: new Set(['r']) } });
    expect(actions(pod.policies[0]!)).toEqual(['Sigkill']);
  });
});

describe('quantifiers (libsinsp: anyof = some value, allof = every value, oneof = exactly one; never on an empty list)', () => {
  it.each([
    ['evt.type = ptrace and proc.name == oneof (gdb, strace)', [{ matchBinaries: [{ operator: 'Postfix', values: ['/gdb', '/strace'] }] }]],
    ['evt.type = ptrace and proc.name == oneof (gdb, gdb, strace)', [{ matchBinaries: [{ operator: 'Postfix', values: ['/strace'] }] }]],
    [
      'evt.type = ptrace and proc.name = anyof (gdb, strace, gdb)',
      [{ matchBinaries: [{ operator: 'Postfix', values: ['/gdb', '/strace'] }] }],
    ],
    ['evt.type = ptrace and proc.name == allof (gdb)', [{ matchBinaries: [{ operator: 'Postfix', values: ['/gdb'] }] }]],
    [
      'evt.type = ptrace and proc.name != allof (gdb, strace)',
      [{ matchBinaries: [{ operator: 'NotPostfix', values: ['/gdb', '/strace'] }] }],
    ],
    ['evt.type = ptrace and proc.name != oneof (gdb, strace)', [{ matchBinaries: [{ operator: 'Postfix', values: ['/gdb', '/strace'] }] }]],
    ['evt.type = ptrace and proc.name != oneof (gdb)', [{ matchBinaries: [{ operator: 'NotPostfix', values: ['/gdb'] }] }]],
    [
      'evt.type = ptrace and not proc.name == anyof (gdb, strace)',
      [{ matchBinaries: [{ operator: 'NotPostfix', values: ['/gdb', '/strace'] }] }],
    ],
    ['evt.type = ptrace and proc.name != anyof (gdb, strace)', [{}]],
    [
      'evt.type = openat and fd.name startswith anyof (/etc/, /root/)',
      [
        { matchArgs: [{ index: 1, operator: 'Prefix', values: ['/etc/'] }] },
        { matchArgs: [{ index: 1, operator: 'Prefix', values: ['/root/'] }] },
      ],
    ],
    [
      'evt.type = openat and fd.name startswith allof (/etc/, /etc/ssh/)',
      [
        {
          matchArgs: [
            { index: 1, operator: 'Prefix', values: ['/etc/'] },
            { index: 1, operator: 'Prefix', values: ['/etc/ssh/'] },
          ],
        },
      ],
    ],
    // Exactly one prefix: under /etc/ but not under /etc/ssh/ (the other alternative can never hold and is pruned).
    [
      'evt.type = openat and fd.name startswith oneof (/etc/, /etc/ssh/)',
      [
        {
          matchArgs: [
            { index: 1, operator: 'Prefix', values: ['/etc/'] },
            { index: 1, operator: 'NotPrefix', values: ['/etc/ssh/'] },
          ],
        },
      ],
    ],
    [
      'evt.type = openat and fd.name endswith oneof (.pem, .key)',
      [
        { matchArgs: [{ index: 1, operator: 'Postfix', values: ['.pem'] }] },
        { matchArgs: [{ index: 1, operator: 'Postfix', values: ['.key'] }] },
      ],
    ],
    [
      'evt.type = openat and not fd.name startswith anyof (/etc/, /root/)',
      [{ matchArgs: [{ index: 1, operator: 'NotPrefix', values: ['/etc/', '/root/'] }] }],
    ],
    ['evt.type = execve and evt.type == oneof (execve, openat)', [{}]],
  ])('%s', (cond, selectors) => {
    const r = conv(cond);
    expect(r.report.verdict, r.report.reasons.join('; ')).toBe('exact');
    const call = r.policies[0]!.spec.kprobes![0]!.call;
    expect(sel(r.policies[0]!, call)).toEqual(selectors);
  });

  it.each([
    ['evt.type = ptrace and proc.name == allof (gdb, strace)', 'can never be true'],
    ['evt.type = ptrace and proc.name == oneof (gdb, gdb)', 'can never be true'],
    ['evt.type = ptrace and proc.name == anyof ()', 'can never be true'],
  ])('%s can never hold', (cond, reason) => {
    const r = conv(cond);
    expect(r.report.verdict).toBe('not-convertible');
    expect(r.report.reasons.join('\n')).toContain(reason);
  });

  it('refuses a quantifier the selectors cannot express, naming the operator', () => {
    const r = conv('evt.type = openat and fd.name contains anyof (ssh, gpg)');
    expect(r.report.verdict).toBe('not-convertible');
    expect(r.report.blockedBy).toEqual(['operator contains/icontains (substring)']);
  });

  it('reads a list name after a quantifier as Falco does: a list is substituted only in parentheses', () => {
    const r = conv('evt.type = ptrace and proc.name == oneof shells');
    expect(r.diagnostics.map((d) => d.rule)).toEqual(['falco/list-outside-parens']);
    expect(conv('evt.type = ptrace and proc.name == oneof (shells)').policies.map((p) => sel(p, 'sys_ptrace'))).toEqual([
      [{ matchBinaries: [{ operator: 'Postfix', values: ['/sh', '/bash'] }] }],
    ]);
  });
});

describe('transformers and field comparisons', () => {
  it.each([
    ['evt.type = openat and join(",", (proc.name, fd.name)) = "cat,/etc/shadow"', 'transformer join() over a list'],
    ['evt.type = openat and tolower(fd.name) startswith /etc/', 'transformer tolower()'],
    ['evt.type = openat and fd.name = toupper(join("-", (fd.directory, "x")))', 'transformer toupper()'],
    ['evt.type = openat and proc.name = val(proc.pname)', 'comparison with another field (val())'],
  ])('%s is not convertible, and the report says why', (cond, feature) => {
    const r = conv(cond);
    expect(r.report.verdict).toBe('not-convertible');
    expect(r.report.blockedBy).toEqual([feature]);
    const b = conv(`${cond} and fd.name startswith /etc/`, { allowBroader: true });
    expect(b.report.verdict).toBe('broader');
    expect(b.report.reasons[0]).toContain('dropped');
  });
});

describe('what a field means on each call (the field table)', () => {
  it('matches a launch on what is launched (the filename argument), never on the caller: broader (the exec may fail), never exact', () => {
    const cond = 'evt.type in (execve, execveat) and proc.name in (nc, ncat)';
    const exact = conv(cond);
    expect(exact.report.verdict).toBe('not-convertible');
    expect(exact.report.reasons[0]).toContain('Falco reads the launched program once the exec succeeded; the hook sees the attempt');
    expect(exact.report.blockedBy).toEqual(['exec outcome: the hook sees the attempt, not the launched program']);
    const r = conv(cond, { allowBroader: true });
    expect(r.report.verdict).toBe('broader');
    expect(sel(r.policies[0]!, 'sys_execve')).toEqual([{ matchArgs: [{ index: 0, operator: 'Postfix', values: ['/nc', '/ncat'] }] }]);
    expect(sel(r.policies[0]!, 'sys_execveat')).toEqual([{ matchArgs: [{ index: 1, operator: 'Postfix', values: ['/nc', '/ncat'] }] }]);
    const neg = conv('evt.type = execve and not proc.name in (sh)', { allowBroader: true });
    expect(sel(neg.policies[0]!, 'sys_execve')).toEqual([{ matchArgs: [{ index: 0, operator: 'NotPostfix', values: ['/sh'] }] }]);
  });

  it('reads proc.name as comm: a longer name never matches, one of 15 characters stands for every name that starts with it', () => {
    expect(sel(conv('evt.type = ptrace and proc.name in (kube-controller-manager, gdb)').policies[0]!, 'sys_ptrace')).toEqual([
      { matchBinaries: [{ operator: 'Postfix', values: ['/gdb'] }] },
    ]);
    // A basename has no slash: `N/A` (upstream's proc_name_exists) names no program, and /usr/bin/N/A is not one.
    expect(sel(conv('evt.type = ptrace and not proc.name in ("<NA>", "N/A")').policies[0]!, 'sys_ptrace')).toEqual([
      { matchBinaries: [{ operator: 'NotPostfix', values: ['/<NA>'] }] },
    ]);
    const t = conv('evt.type = ptrace and proc.name = containerd-shim');
    expect(t.report.verdict).toBe('not-convertible');
    expect(t.report.blockedBy).toEqual(['proc.name of 15 characters (truncated comm)']);
    const n = conv('evt.type = ptrace and not proc.name in (containerd-shim, gdb)', { allowBroader: true });
    expect(n.report.verdict).toBe('broader');
    expect(sel(n.policies[0]!, 'sys_ptrace')).toEqual([
      { matchBinaries: [{ operator: 'NotPostfix', values: ['/containerd-shim', '/gdb'] }] },
    ]);
  });

  it('reads fd.* as false on calls without a descriptor, and as the descriptor (unknown at entry) on calls that use one', () => {
    const both = conv('evt.type in (openat, unlink) and fd.name = /x');
    expect(both.report.verdict).toBe('exact');
    expect(both.report.hooks).toEqual(['openat']);
    expect(conv('evt.type = unlink and fd.name = /x').report.reasons[0]).toContain('Falco never fires it');
    expect(sel(conv('evt.type = unlink and not fd.name = /x').policies[0]!, 'sys_unlink')).toEqual([{}]);
    const at = conv('evt.type = unlinkat and fd.name = /x');
    expect(at.report.verdict).toBe('not-convertible');
    expect(at.report.reasons[0]).toContain('fd.name: Falco reads the descriptor the call created or used');
  });

  it('reads evt.dir as Falco 0.41+ does: every syscall event is an exit event', () => {
    expect(sel(conv('evt.type = openat and evt.dir = < and fd.name = /x').policies[0]!, 'sys_openat')).toEqual([
      { matchArgs: [{ index: 1, operator: 'Equal', values: ['/x'] }] },
    ]);
    expect(conv('evt.type = openat and evt.dir = > and fd.name = /x').report.verdict).toBe('not-convertible');
  });

  it('over-approximates what only the outcome of an open says (evt.is_open_create, fd.filename) with the attempt', () => {
    const create = conv('evt.type = openat and evt.is_open_create = true and fd.name startswith /etc/', { allowBroader: true });
    expect(create.report.verdict).toBe('broader');
    expect(sel(create.policies[0]!, 'sys_openat')).toEqual([
      {
        matchArgs: [
          { index: 2, operator: 'Mask', values: [String(0o20000100)] },
          { index: 1, operator: 'Prefix', values: ['/etc/'] },
        ],
      },
    ]);
    const name = conv('evt.type = openat and fd.filename in (shadow)', { allowBroader: true });
    expect(sel(name.policies[0]!, 'sys_openat')).toEqual([{ matchArgs: [{ index: 1, operator: 'Postfix', values: ['/shadow'] }] }]);
    // Falco's negated fd.filename also holds for every failed open: no selector bounds it, the term is dropped.
    expect(
      conv('evt.type = openat and not fd.filename in (shadow) and fd.name startswith /etc/', { allowBroader: true }).report.reasons[0],
    ).toContain('dropped');
  });

  it('says per rule what blocked an exact conversion, and sums the reasons over rules, most frequent first', async () => {
    const { convertFalco: cf } = await import('../../compiler/convert/falco/index.js');
    const text = [
      'a: evt.type = ptrace and proc.cmdline contains x',
      'b: evt.type = ptrace and proc.cmdline contains y and proc.pname = sh',
      'c: evt.type = ptrace and proc.pname = sh',
      'd: evt.type = ptrace and proc.aname[2] = sh',
      'e: evt.type = ptrace and proc.name = gdb',
    ]
      .map((l) => `- rule: ${l.slice(0, 1)}\n  desc: d\n  condition: ${l.slice(3)}\n  output: o\n  priority: WARNING\n`)
      .join('');
    const l = loadSources([{ file: 'm.yaml', bytes: enc.encode(text) }]);
    const c = cf(l.documents.filter(isFalcoRules), l.sources);
    expect(c.reports.map((r) => r.blockedBy)).toEqual([
      ['proc.cmdline/proc.args (argv)'],
      ['proc.cmdline/proc.args (argv)', 'proc.pname/proc.aname (ancestors)'],
      ['proc.pname/proc.aname (ancestors)'],
      ['proc.pname/proc.aname (ancestors)'],
      [],
    ]);
    expect(c.blockers).toEqual([
      { feature: 'proc.pname/proc.aname (ancestors)', rules: 3 },
      { feature: 'proc.cmdline/proc.args (argv)', rules: 2 },
    ]);
  });
});
