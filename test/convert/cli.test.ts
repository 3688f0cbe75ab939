import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { main } from '../../cli/main.js';
import type { CommandIO } from '../../cli/command.js';
import { validateTracingPolicy, type TracingPolicy } from '../../compiler/convert/tracing-policy.js';
import { expectGolden } from './golden.js';

const fixtures = path.resolve(import.meta.dirname, 'fixtures');

function io(cwd = fixtures): CommandIO & { out: string; err: string } {
  const o = { out: '', err: '', cwd, env: {}, isTTY: false } as CommandIO & { out: string; err: string };
  o.stdout = (s) => void (o.out += s);
  o.stderr = (s) => void (o.err += s);
  return o;
}

let tmp: string;
beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'wcv-cli-'));
});
afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

async function readPolicies(dir: string): Promise<Record<string, TracingPolicy>> {
  const out: Record<string, TracingPolicy> = {};
  for (const f of (await fs.readdir(dir)).sort()) out[f] = parse(await fs.readFile(path.join(dir, f), 'utf8')) as TracingPolicy;
  return out;
}

describe('weir convert falco', () => {
  it('writes one policy per rule with provenance and prints the report', async () => {
    const out = path.join(tmp, 'falco');
    const x = io();
    expect(
      await main(['convert', 'falco', 'rules.yaml', '--out', out, '--enforce', 'priority>=CRITICAL', '--allow-host-wide-kill'], x),
    ).toBe(0);
    expect(x.err).toBe('');
    await expectGolden('cli-falco-report.txt', x.out);
    const ps = await readPolicies(out);
    expect(Object.keys(ps)).toEqual(['falco-write-to-sensitive-file.yaml']);
    for (const p of Object.values(ps)) expect(validateTracingPolicy(p)).toEqual([]);
    const w = ps['falco-write-to-sensitive-file.yaml']!;
    expect(w.metadata.annotations).toMatchObject({
      'weir.dev/source-file': 'rules.yaml',
      'weir.dev/source-line': '13',
      'weir.dev/falco-rule': 'Write to sensitive file',
      'weir.dev/conversion': 'exact',
    });
    await expectGolden(
      'falco-write-to-sensitive-file.yaml',
      await fs.readFile(path.join(out, 'falco-write-to-sensitive-file.yaml'), 'utf8'),
    );
  });

  it('--profile full hooks file opens at security_file_open (the file reached); an unknown profile is a usage error', async () => {
    const rules = path.join(tmp, 'opens.yaml');
    await fs.writeFile(
      rules,
      '- rule: Cat reads shadow\n  desc: d\n  condition: evt.type in (open, openat) and fd.name = /etc/shadow and proc.name = cat\n  output: o\n  priority: CRITICAL\n',
    );
    const x = io(tmp);
    expect(await main(['convert', 'falco', 'opens.yaml', '--profile', 'full', '--enforce', 'priority>=CRITICAL'], x)).toBe(0);
    const p = parse(x.out) as TracingPolicy;
    expect(p.metadata.annotations!['weir.dev/conversion']).toBe('exact');
    expect(p.spec.kprobes).toEqual([
      {
        call: 'security_file_open',
        syscall: false,
        args: [{ index: 0, type: 'file' }],
        selectors: [
          {
            matchArgs: [{ index: 0, operator: 'Equal', values: ['/etc/shadow'] }],
            matchBinaries: [{ operator: 'Postfix', values: ['/cat'] }],
            matchActions: [{ action: 'Sigkill' }],
          },
        ],
      },
    ]);
    expect(x.err).toMatch(/security_file_open/);
    expect(x.err).toMatch(/symlinks followed/);
    const d = io(tmp);
    expect(await main(['convert', 'falco', 'opens.yaml'], d)).toBe(0);
    expect((parse(d.out.split('---\n')[0]!) as TracingPolicy).spec.kprobes!.map((k) => k.call)).toEqual(['sys_open', 'sys_openat']);
    const bad = io(tmp);
    expect(await main(['convert', 'falco', 'opens.yaml', '--profile', 'fast'], bad)).toBe(2);
    expect(bad.err).toMatch(/--profile "fast": one of tracepoint-only, full/);
  });

  it('without --out streams the policies on stdout and the report on stderr', async () => {
    const x = io();
    expect(await main(['convert', 'falco', 'rules.yaml', '--allow-broader'], x)).toBe(0);
    expect(x.out.split('---\n').map((d) => (parse(d) as TracingPolicy).metadata.name)).toEqual(
      ['falco-write-to-sensitive-file', 'falco-shell-in-container', 'falco-java-with-jar'].slice(0, 2),
    );
    expect(x.err).toContain('3 rules: 1 exact, 1 broader, 1 not convertible, 0 disabled; 2 TracingPolicies');
  });

  it('reports bad input as file:line:col diagnostics, exits 1, and still converts the good rules', async () => {
    const out = path.join(tmp, 'bad');
    const x = io();
    expect(await main(['convert', 'falco', 'bad.yaml', '--out', out, '--report', 'json', '--output', path.join(tmp, 'bad.json')], x)).toBe(
      1,
    );
    expect(x.err).toContain('bad.yaml:9:36: error: undefined macro `spawned_shell` used in filter [falco/undefined-macro]');
    expect(x.err).toContain('bad.yaml:13:9: error: rule `Ghost` is appended to or overridden but no rule by that name was defined before');
    const report = JSON.parse(await fs.readFile(path.join(tmp, 'bad.json'), 'utf8'));
    expect(report.totals).toMatchObject({ rules: 2, exact: 1, 'not-convertible': 1 });
    expect(report.blockers).toEqual([{ feature: 'the condition does not compile', rules: 1 }]);
    expect(report.rules.map((r: { blockedBy: string[] }) => r.blockedBy)).toEqual([[], ['the condition does not compile']]);
    expect(report).not.toHaveProperty('crowded');
    expect(report.rules[1].reasons[0]).toContain('bad.yaml:9:36');
    expect(Object.keys(await readPolicies(out))).toEqual(['falco-good-one.yaml']);
  });

  it.each([
    [['convert', 'falco'], 'name at least one Falco rules file'],
    [['convert', 'falco', 'rules.yaml', '--enforce', 'loud'], 'expected priority>=LEVEL or rule=NAME'],
    [['convert', 'falco', 'rules.yaml', '--enforce', 'priority>=SEVERE'], 'unknown priority'],
    [['convert', 'falco', 'rules.yaml', '--report', 'xml'], 'expected text or json'],
    [['convert', 'nope'], 'unknown converter'],
    [['convert', 'pss', 'strict'], 'baseline or restricted'],
  ])('%j is a usage error (exit 2)', async (argv, message) => {
    const x = io();
    expect(await main(argv, x)).toBe(2);
    expect(x.err).toContain(message);
  });
});

describe('weir convert psp / pss', () => {
  it('converts a PodSecurityPolicy: runtime analogues as policies, admission-only fields named with the tool', async () => {
    const out = path.join(tmp, 'psp');
    const x = io();
    expect(await main(['convert', 'psp', 'psp.yaml', '--out', out], x)).toBe(0);
    await expectGolden('cli-psp-report.txt', x.out);
    const ps = await readPolicies(out);
    for (const p of Object.values(ps)) expect(validateTracingPolicy(p)).toEqual([]);
    expect(Object.keys(ps)).toEqual([
      'psp-restricted-allowed-capabilities.yaml',
      'psp-restricted-drop-capabilities.yaml',
      'psp-restricted-no-hostipc.yaml',
      'psp-restricted-no-hostnetwork.yaml',
      'psp-restricted-no-hostpid.yaml',
      'psp-restricted-no-privilege-escalation.yaml',
      'psp-restricted-privileged.yaml',
      'psp-restricted-read-only-host-paths.yaml',
      'psp-restricted-run-as-user-range.yaml',
    ]);
    expect(x.out).toMatch(/volumes: not enforceable at runtime\n.*Pod Security Admission, Kyverno or OPA Gatekeeper/);
  });

  it.each(['baseline', 'restricted'])('converts the %s Pod Security Standard', async (level) => {
    const x = io();
    expect(await main(['convert', 'pss', level, '--enforce', '--report', 'json', '--output', path.join(tmp, `${level}.json`)], x)).toBe(0);
    const docs = x.out.split('---\n').map((d) => parse(d) as TracingPolicy);
    for (const p of docs) {
      expect(validateTracingPolicy(p)).toEqual([]);
      expect(p.spec.kprobes!.every((k) => k.selectors!.every((s) => s.matchActions![0]!.action === 'Sigkill'))).toBe(true);
    }
    await expectGolden(`cli-pss-${level}.json`, await fs.readFile(path.join(tmp, `${level}.json`), 'utf8'));
  });
});
