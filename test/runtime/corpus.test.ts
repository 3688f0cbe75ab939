// Every upstream Tetragon example either compiles for this machine's capabilities (tracepoints only:
// kprobes load but do not attach, no fentry, no BPF LSM) or is rejected with a precise reason.
import { describe, expect, it } from 'vitest';
import { sortDiagnostics, type Diagnostic } from '../../compiler/diagnostics.js';
import { loadPolicies } from '../../compiler/load/index.js';
import { compileRuntime } from '../../compiler/lower/runtime/index.js';
import { capabilityProfiles } from '../../compiler/lower/runtime/capabilities.js';
import { localCaps, projectRoot } from './helpers.js';
import { decodeHook } from '../../bpf/abi/runtime.js';
import { runPolicyTests } from '../../compiler/policytest/run.js';
import { tetragonCorpus as corpus } from '../upstream-corpus.js';

/** The reason a file is rejected: the rule of its first error (by position), so each file counts once. */
function outcomes(diags: Diagnostic[], files: string[]): Map<string, string> {
  const byFile = new Map<string, string>();
  for (const d of sortDiagnostics(diags.filter((x) => x.severity === 'error'))) if (!byFile.has(d.file)) byFile.set(d.file, d.rule);
  return new Map(files.map((f) => [f, byFile.get(f) ?? 'compiles']));
}

describe('Tetragon corpus on this node (tracepoint-only)', () => {
  it('compiles or rejects every file with a located reason; counts per outcome', async () => {
    const loaded = await loadPolicies([corpus], { root: corpus });
    const r = compileRuntime(loaded.documents, [{ name: 'local', caps: localCaps }]);
    const diags = [...loaded.diagnostics, ...r.diagnostics, ...r.nodes[0]!.diagnostics];
    const files = [...new Set(loaded.documents.map((d) => d.provenance.file))].sort();
    expect(files).toHaveLength(71);
    for (const d of diags.filter((x) => x.severity === 'error')) {
      expect(d.line, `${d.file}: ${d.message}`).toBeGreaterThan(0);
      expect(d.message.length).toBeGreaterThan(30);
    }
    const out = outcomes(diags, files);
    const counts: Record<string, number> = {};
    for (const o of out.values()) counts[o] = (counts[o] ?? 0) + 1;
    expect(counts).toEqual(EXPECTED_COUNTS);
    expect([...out].filter(([, o]) => o === 'compiles').map(([f]) => f)).toEqual(EXPECTED_COMPILING);
    // Everything that compiled became hooks on tracepoints: syscall ones, and the raw sched_process_exec one.
    expect(r.nodes[0]!.lowered.attach.every((a) => /^(syscalls\/sys_enter_|raw_syscalls\/sys_enter$|raw_tp\/)/.test(a))).toBe(true);
  });
});

// 13 compile (a generated_syscalls list hooks raw_syscalls/sys_enter; the raw sched_process_exec tracepoint is a raw_tp);
// 58 are rejected: most need a hook this node lacks (kprobes or fentry on kernel functions, BPF LSM, uprobes) or
// an action it cannot take (Override), the rest use what weir does not implement (enforcer/URL/DNS actions,
// generated_ftrace lists, the loader sensor, host-wide kills).
const EXPECTED_COUNTS: Record<string, number> = {
  compiles: 13,
  'runtime/generated-list': 1,
  'runtime/host-wide-kill': 3,
  'runtime/node-capability': 46,
  'runtime/unsupported-action': 4,
  'runtime/unsupported-arg-type': 2,
  'runtime/unsupported-hook': 2,
};
const EXPECTED_COMPILING: string[] = [
  'hardlink-observe.yaml',
  'list-syscalls-generated.yaml',
  'list-syscalls-tracepoint.yaml',
  'list-syscalls.yaml',
  'process-credentials/process.credentials.changes.at.syscalls.yaml',
  'raw_syscalls.yaml',
  'rawtp.yaml',
  'symlink-observe.yaml',
  'sys_clock_settime.yaml',
  'sys_mount.yaml',
  'sys_pivot_root.yaml',
  'sys_ptrace.yaml',
  'sys_setuid.yaml',
];

// Every file on its own, as a user building it would, on a node with kprobes, fentry and BPF LSM (profile `full`).
describe('Tetragon corpus on full nodes', () => {
  it(`${EXPECTED_FULL_BUILT} of 71 files build; the rest are refused with a located reason`, async () => {
    const loaded = await loadPolicies([corpus], { root: corpus });
    const files = [...new Set(loaded.documents.map((d) => d.provenance.file))].sort();
    const refused: Record<string, string> = {};
    let built = 0;
    for (const f of files) {
      const docs = loaded.documents.filter((d) => d.provenance.file === f);
      const r = compileRuntime(docs, [{ name: 'prod-1', caps: capabilityProfiles['full']! }]);
      const errors = sortDiagnostics(
        [...loaded.diagnostics.filter((d) => d.file === f), ...r.diagnostics, ...r.nodes[0]!.diagnostics].filter(
          (d) => d.severity === 'error',
        ),
      );
      if (errors.length === 0) {
        built++;
        // The encoded tables decode to what the lowering produced (what the image evaluator and the kernel read).
        const n = r.nodes[0]!;
        const hooks = n.images.find((i) => i.name === 'wrt_hooks')!.records;
        expect(hooks.map(([, v]) => decodeHook(v)).map((h) => h.selectors)).toEqual(n.lowered.hooks.map((h) => h.selectors));
        continue;
      }
      const e = errors[0]!;
      expect(e.line, `${f}: ${e.message}`).toBeGreaterThan(0);
      refused[f] = `${e.rule}: ${e.message
        .replace(/^node prod-1: /, '')
        .split(/[;:(]/)[0]!
        .trim()}`;
    }
    expect(built).toBe(EXPECTED_FULL_BUILT);
    expect(refused).toEqual(EXPECTED_FULL_REFUSED);
  });

  it("the built examples' selector tables pass the PolicyTest cases of test/fixtures/runtime/tetragon-full.policytest.yaml", async () => {
    const run = await runPolicyTests(['test/fixtures/runtime/tetragon-full.policytest.yaml'], { root: projectRoot });
    expect(run.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(run.results.map((r) => [r.name, r.actual, r.ok]).filter((r) => r[2] !== true)).toEqual([]);
    expect(run.results).toHaveLength(13);
    expect(new Set(run.results.map((r) => r.actual))).toEqual(new Set(['post', 'override', 'kill', 'allow']));
  });
});

const EXPECTED_FULL_BUILT = 55;
/** Refused on a full node: the first error of each file (rule: message up to its first clause). */
const EXPECTED_FULL_REFUSED: Record<string, string> = {
  // Engine features weir does not have: capability changes, enforcer notification, URL/DNS actions, usdt Set,
  // resolve: paths, generated_ftrace lists, the loader sensor, uprobes/usdt.
  'fd_install_cap_changes.yaml': "runtime/unsupported-selector: matchCapabilityChanges is not evaluated by weir's runtime engine",
  'killer.yaml':
    "runtime/unsupported-action: action NotifyEnforcer needs Tetragon's fd/socket/enforcer tracking, which weir does not implement",
  'list-generated-ftrace.yaml':
    "runtime/generated-list: list ksys is of type generated_ftrace, which Tetragon fills from the node's kernel functions matching a pattern at load time",
  'loader.yaml': "runtime/unsupported-hook: spec.loader needs Tetragon's loader sensor",
  'lsm_track_grandparent.yml':
    "runtime/unsupported-arg-type: args[0].resolve follows kernel struct fields by name through the node's BTF at load time",
  'open_dnsrequest.yaml':
    "runtime/unsupported-action: action DnsLookup needs Tetragon's fd/socket/enforcer tracking, which weir does not implement",
  'open_geturl.yaml':
    "runtime/unsupported-action: action GetUrl needs Tetragon's fd/socket/enforcer tracking, which weir does not implement",
  'usdt-set.yaml': "runtime/unsupported-action: action Set needs Tetragon's fd/socket/enforcer tracking, which weir does not implement",
  'uprobe-binaries.yaml': 'runtime/unsupported-hook: uprobe malloc',
  'uprobe-host.yaml': 'runtime/unsupported-hook: uprobe _start',
  'uprobe-pid.yaml': 'runtime/unsupported-hook: uprobe readline',
  'uprobe.yaml': 'runtime/unsupported-hook: uprobe readline',
  'usdt.yaml': 'runtime/unsupported-hook: usdt usdt3',
  // weir's own safety rule: an unscoped Sigkill that could hit host processes.
  'dns-only-specified-servers.yaml': 'runtime/host-wide-kill: Sigkill here would signal any process on the host that makes this call',
  'sandbox/linux-namespaces/kill_unprivileged_user_namespace.yaml':
    'runtime/host-wide-kill: Sigkill here would signal any process on the host that makes this call',
  'tcp-connect-only-private-addrs.yaml': 'runtime/host-wide-kill: Sigkill here would signal any process on the host that makes this call',
};
