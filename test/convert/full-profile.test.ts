// `weir convert falco --profile full`: the upstream Falco rules on file opens hooked at security_file_open, built for a
// full node (the attach point named per node), refused on a tracepoint-only one, and their PolicyTest cases (written
// from Falco's semantics of fd.name and the open flags) answered by the image evaluator over the compiled tables.
import { promises as fs, rmSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { isFalcoRules, loadSources, type PolicyDocument } from '../../compiler/load/index.js';
import { convertFalco, type FalcoConversion } from '../../compiler/convert/falco/index.js';
import { assumptions } from '../../compiler/convert/falco/fields.js';
import type { TracingPolicy } from '../../compiler/convert/tracing-policy.js';
import { compileRuntime } from '../../compiler/lower/runtime/index.js';
import { capabilityProfiles } from '../../compiler/lower/runtime/capabilities.js';
import { runPolicyTests } from '../../compiler/policytest/run.js';
import { falcoCorpus as corpus, falcoRuleFiles as files } from '../upstream-corpus.js';
import { tempDir } from '../runtime/helpers.js';

const enc = new TextEncoder();

async function convert(profile: 'full' | 'tracepoint-only'): Promise<FalcoConversion> {
  const l = loadSources(await Promise.all(files.map(async (f) => ({ file: f, bytes: await fs.readFile(path.join(corpus, f)) }))));
  return convertFalco(l.documents.filter(isFalcoRules), l.sources, { allowBroader: true, profile });
}

function asDocuments(policies: TracingPolicy[]): PolicyDocument[] {
  const l = loadSources(
    policies.map((p) => ({ file: `${p.metadata.name}.yaml`, bytes: enc.encode(stringify(p, { aliasDuplicateObjects: false })) })),
  );
  expect(l.diagnostics).toEqual([]);
  return l.documents;
}

/** The upstream rules whose opens a full node hooks at security_file_open (the open_read rules and those on fd.name only). */
const FILE_OPEN_RULES = [
  'Backdoored library loaded into SSHD (CVE-2024-3094)',
  'Exfiltrating Artifacts via Kubernetes Control Plane',
  'Read environment variable from /proc files',
  'Read sensitive file trusted after startup',
  'Read sensitive file untrusted',
  'Read ssh information',
];

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('Falco rules on file opens, converted for full nodes', () => {
  it('six upstream rules hook security_file_open; the open_write rules keep the syscall hooks (exact flags) and say why', async () => {
    const full = await convert('full');
    const tp = await convert('tracepoint-only');
    // The same rules convert, with the same verdicts: only the hook of some changes.
    expect(full.totals).toEqual(tp.totals);
    expect(full.reports.map((r) => [r.rule, r.verdict])).toEqual(tp.reports.map((r) => [r.rule, r.verdict]));
    const names = full.policies.map((p) => p.policy.metadata.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names.sort()).toEqual(tp.policies.map((p) => p.policy.metadata.name).sort());
    const kernel = full.reports.filter((r) => r.hooks.includes('security_file_open'));
    expect(kernel.map((r) => r.rule).sort()).toEqual(FILE_OPEN_RULES);
    for (const r of kernel) {
      expect(r.hooks, r.rule).toEqual(['security_file_open']);
      expect(r.notes, r.rule).toContain(assumptions.reached);
    }
    // Where the rule compares paths, the symlink assumption is stated; open_read's flags are reported dropped.
    const untrusted = kernel.find((r) => r.rule === 'Read sensitive file untrusted')!;
    expect(untrusted.notes).toContain(assumptions.symlinks);
    expect(untrusted.notes).not.toContain(assumptions.paths);
    expect(untrusted.reasons.some((x) => x.startsWith('evt.is_open_read = true dropped') && x.includes('no flags argument'))).toBe(true);
    // fd.num >= 0 (the open succeeded) is what security_file_open sees: not dropped there, dropped at the syscall entry.
    expect(untrusted.reasons.some((x) => x.startsWith('fd.num'))).toBe(false);
    expect(tp.reports.find((r) => r.rule === untrusted.rule)!.reasons.some((x) => x.startsWith('fd.num >= 0 dropped'))).toBe(true);
    const policy = full.policies.find((p) => p.rule === untrusted.rule)!.policy;
    expect(policy.spec.kprobes!.map((k) => [k.call, k.syscall, k.args])).toEqual([
      ['security_file_open', false, [{ index: 0, type: 'file' }]],
    ]);
    expect(policy.spec.kprobes![0]!.selectors!.map((s) => s.matchArgs)).toEqual([
      [{ index: 0, operator: 'Equal', values: ['/etc/shadow', '/etc/sudoers', '/etc/pam.conf', '/etc/security/pwquality.conf'] }],
      [{ index: 0, operator: 'Prefix', values: ['/etc/sudoers.d/', '/etc/pam.d/'] }],
    ]);
    // open_write: at security_file_open evt.is_open_write would be dropped; the syscall hooks match it exactly (Mask 3).
    const etc = full.reports.find((r) => r.rule === 'Write below etc')!;
    expect(etc.hooks).toEqual(['open', 'openat', 'openat2']);
    expect(etc.notes.find((n) => n.startsWith('profile full: the opens stay on the syscall hooks'))).toMatch(
      /evt\.is_open_write = true would be dropped/,
    );
    expect(full.reports.filter((r) => r.notes.some((n) => n.startsWith('profile full: the opens stay'))).length).toBe(15);
  });

  it('build on a full node at security_file_open (fentry, named in the hook table); refused on a tracepoint-only node', async () => {
    const full = await convert('full');
    const tp = await convert('tracepoint-only');
    const pick = (c: FalcoConversion) => asDocuments(c.policies.filter((p) => FILE_OPEN_RULES.includes(p.rule)).map((p) => p.policy));
    const docs = pick(full);
    expect(docs).toHaveLength(FILE_OPEN_RULES.length);
    const declared = new Map(full.policies.map((p) => [p.policy.metadata.name, p.policy.spec.kprobes![0]!.args ?? []]));
    for (const d of docs) {
      const r = compileRuntime([d], [{ name: 'prod-1', caps: capabilityProfiles['full']! }]);
      const errors = [...r.diagnostics, ...r.nodes.flatMap((n) => n.diagnostics)].filter((x) => x.severity === 'error');
      expect(
        errors.map((e) => e.message),
        d.name,
      ).toEqual([]);
      const n = r.nodes[0]!.lowered;
      expect(n.attach, d.name).toEqual(['fentry/security_file_open']);
      expect(n.table.map((t) => [t.call, t.attach, t.args])).toEqual([
        ['security_file_open', 'fentry/security_file_open', declared.get(d.name)],
      ]);
      const onTp = compileRuntime([d], [{ name: 'ci-1', caps: capabilityProfiles['tracepoint-only']! }]);
      const refused = onTp.nodes.flatMap((x) => x.diagnostics).filter((x) => x.severity === 'error');
      expect(
        refused.map((e) => e.rule),
        d.name,
      ).toEqual(['runtime/node-capability']);
      expect(refused[0]!.message).toMatch(/^node ci-1: kprobe on kernel function security_file_open needs kprobe or fentry attach/);
    }
    // On tracepoint-only nodes the default conversion lowers as before: the syscalls' entry tracepoints.
    for (const d of pick(tp)) {
      const r = compileRuntime([d], [{ name: 'ci-1', caps: capabilityProfiles['tracepoint-only']! }]);
      expect([...r.diagnostics, ...r.nodes.flatMap((n) => n.diagnostics)].filter((x) => x.severity === 'error')).toEqual([]);
      expect(
        r.nodes[0]!.lowered.attach.every((a) => a.startsWith('syscalls/sys_enter_open')),
        d.name,
      ).toBe(true);
    }
  });

  it("PolicyTest cases from Falco's semantics (relative and absolute names, a symlink, O_RDONLY vs O_WRONLY) pass the image evaluator", async () => {
    const dir = tempDir('wcv-full');
    dirs.push(dir);
    const full = await convert('full');
    const tp = await convert('tracepoint-only');
    const write = async (sub: string, c: FalcoConversion, rules: string[]) => {
      await fs.mkdir(path.join(dir, sub));
      const names: string[] = [];
      for (const p of c.policies.filter((x) => rules.includes(x.rule))) {
        names.push(`${sub}/${p.policy.metadata.name}.yaml`);
        await fs.writeFile(path.join(dir, sub, `${p.policy.metadata.name}.yaml`), stringify(p.policy, { aliasDuplicateObjects: false }));
      }
      return names;
    };
    const rules = ['Read sensitive file untrusted', 'Write below etc'];
    const fullFiles = await write('full', full, rules);
    const tpFiles = await write('tp', tp, rules);
    // cat reads a sensitive file; tee writes below /etc. Falco: fd.name is the name opened, made absolute against
    // the working directory, symlinks not followed; open_read holds for O_RDONLY/O_RDWR, open_write for O_WRONLY/O_RDWR.
    const cat = { binary: '/usr/bin/cat' };
    const tee = { binary: '/usr/bin/tee' };
    const O_RDONLY = 0;
    const O_WRONLY = 1;
    const spec = (node: string, policies: string[], cases: object[]) =>
      stringify({
        apiVersion: 'weir.dev/v1alpha1',
        kind: 'PolicyTest',
        metadata: { name: `falco-file-opens-${node}` },
        spec: {
          inventory: {
            nodes: [
              { name: node, ips: ['192.168.1.1'], labels: { 'weir.dev/runtime-profile': node === 'prod-1' ? 'full' : 'tracepoint-only' } },
            ],
          },
          policies,
          cases: cases.map((c) => ({ node, ...c })),
        },
      });
    await fs.writeFile(
      path.join(dir, 'full.policytest.yaml'),
      spec('prod-1', fullFiles, [
        // security_file_open's file is the file reached: the kernel resolved the name the process passed.
        {
          name: 'open("/etc/shadow", O_RDONLY): Falco flags it; the file reached is /etc/shadow',
          process: cat,
          call: 'security_file_open',
          args: ['/etc/shadow'],
          expect: 'post',
        },
        {
          name: 'open("shadow") in /etc: Falco flags /etc/shadow; the file reached is /etc/shadow',
          process: cat,
          call: 'security_file_open',
          args: ['/etc/shadow'],
          expect: 'post',
        },
        {
          name: 'open("/etc/../etc/pam.d/sshd"): Falco flags /etc/pam.d/sshd, so does the resolved path',
          process: cat,
          call: 'security_file_open',
          args: ['/etc/pam.d/sshd'],
          expect: 'post',
        },
        {
          name: 'open("/etc/hostname"): not a sensitive file for Falco, nor here',
          process: cat,
          call: 'security_file_open',
          args: ['/etc/hostname'],
          expect: 'allow',
        },
        {
          name: 'sshd reading /etc/shadow is excluded by the rule (proc.name in the allow list)',
          process: { binary: '/usr/sbin/sshd' },
          call: 'security_file_open',
          args: ['/etc/shadow'],
          expect: 'allow',
        },
        // The symlink assumption: open("/tmp/s") where /tmp/s -> /etc/shadow. Falco's fd.name is /tmp/s (not flagged);
        // the hook sees the file reached, /etc/shadow, and reports it (stated in the report's notes).
        {
          name: 'open("/tmp/s"), a symlink to /etc/shadow: Falco reads fd.name /tmp/s and does not flag it; weir sees /etc/shadow',
          process: cat,
          call: 'security_file_open',
          args: ['/etc/shadow'],
          expect: 'post',
        },
        // open_read: security_file_open has no flags, so the O_WRONLY open of /etc/shadow is reported too (broader, reported).
        {
          name: 'open("/etc/shadow", O_WRONLY): not open_read for Falco; security_file_open sees no flags (broader, as reported)',
          process: tee,
          call: 'security_file_open',
          args: ['/etc/shadow'],
          expect: 'post',
        },
        // Write below etc stays on the syscall hooks on a full node: the flags are matched exactly.
        {
          name: 'openat(AT_FDCWD, "/etc/x.conf", O_WRONLY): open_write below /etc is flagged',
          process: tee,
          call: 'sys_openat',
          args: [-100, '/etc/x.conf', O_WRONLY],
          expect: 'post',
        },
        {
          name: 'openat(AT_FDCWD, "/etc/x.conf", O_RDONLY): not open_write, not flagged',
          process: tee,
          call: 'sys_openat',
          args: [-100, '/etc/x.conf', O_RDONLY],
          expect: 'allow',
        },
      ]),
    );
    await fs.writeFile(
      path.join(dir, 'tp.policytest.yaml'),
      spec('ci-1', tpFiles, [
        {
          name: 'openat(AT_FDCWD, "/etc/shadow", O_RDONLY) is flagged at the syscall entry',
          process: cat,
          call: 'sys_openat',
          args: [-100, '/etc/shadow', O_RDONLY],
          expect: 'post',
        },
        // The paths assumption of the tracepoint conversion: a relative name escapes, as the report states.
        {
          name: 'openat(AT_FDCWD, "shadow") in /etc: Falco flags /etc/shadow; the entry sees "shadow" (the documented escape)',
          process: cat,
          call: 'sys_openat',
          args: [-100, 'shadow', O_RDONLY],
          expect: 'allow',
        },
        {
          name: 'openat(AT_FDCWD, "/etc/x.conf", O_WRONLY) is open_write below /etc',
          process: tee,
          call: 'sys_openat',
          args: [-100, '/etc/x.conf', O_WRONLY],
          expect: 'post',
        },
        {
          name: 'openat(AT_FDCWD, "/etc/x.conf", O_RDONLY) is not',
          process: tee,
          call: 'sys_openat',
          args: [-100, '/etc/x.conf', O_RDONLY],
          expect: 'allow',
        },
      ]),
    );
    for (const f of ['full.policytest.yaml', 'tp.policytest.yaml']) {
      const run = await runPolicyTests([f], { root: dir });
      expect(
        run.diagnostics.filter((d) => d.severity === 'error'),
        f,
      ).toEqual([]);
      expect(run.results.filter((r) => !r.ok).map((r) => [r.name, r.actual])).toEqual([]);
      expect(run.results.length).toBe(f.startsWith('full') ? 9 : 4);
    }
  });
});
