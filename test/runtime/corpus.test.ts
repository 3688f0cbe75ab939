// Every upstream Tetragon example either compiles for this machine's capabilities (tracepoints only:
// kprobes load but do not attach, no fentry, no BPF LSM) or is rejected with a precise reason.
import { describe, expect, it } from 'vitest';
import { sortDiagnostics, type Diagnostic } from '../../compiler/diagnostics.js';
import { loadPolicies } from '../../compiler/load/index.js';
import { compileRuntime } from '../../compiler/lower/runtime/index.js';
import { capabilityProfiles } from '../../compiler/lower/runtime/capabilities.js';
import { localCaps } from './helpers.js';
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
