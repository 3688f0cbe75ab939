// `weir lint --format sarif` as code scanning reads it: valid against the official SARIF 2.1.0
// schema and clean under the SARIF Multitool's SARIF and GitHub rules; URIs relative to the
// repository root; fingerprints that survive reruns and moved lines; a full descriptor per rule.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CommandIO } from '../../cli/command.js';
import { main } from '../../cli/main.js';
import { codeAnchor } from '../../compiler/lint/codes.js';
import { fingerprintKey, srcroot } from '../../compiler/lint/report.js';
import { multitoolFindings, sarifSchemaErrors } from '../support/sarif.js';

const root = path.resolve(import.meta.dirname, '../..');
const fixtures = path.join(import.meta.dirname, 'fixtures');
const temps: string[] = [];
afterAll(() => temps.forEach((t) => rmSync(t, { recursive: true, force: true })));
const temp = (p: string) => {
  const d = mkdtempSync(path.join(tmpdir(), p));
  temps.push(d);
  return d;
};

interface Rule {
  id: string;
  name?: string;
  shortDescription?: { text: string };
  fullDescription?: { text: string };
  help?: { text: string; markdown?: string };
  helpUri?: string;
}
interface Result {
  ruleId: string;
  ruleIndex: number;
  message: { text: string };
  partialFingerprints?: Record<string, string>;
  locations: { physicalLocation: { artifactLocation: { uri: string; uriBaseId?: string }; region: { startLine: number } } }[];
}
interface Log {
  $schema: string;
  runs: {
    tool: { driver: { name: string; informationUri?: string; rules: Rule[] } };
    originalUriBaseIds?: Record<string, { uri?: string }>;
    versionControlProvenance?: { repositoryUri: string; revisionId?: string }[];
    results: Result[];
  }[];
}

async function lint(args: string[], cwd: string): Promise<{ code: number; text: string; log: Log }> {
  let stdout = '';
  const io: CommandIO = { stdout: (s) => (stdout += s), stderr: () => {}, cwd, env: { NO_COLOR: '1' }, isTTY: false };
  const code = await main(['lint', ...args, '--format', 'sarif'], io);
  return { code, text: stdout, log: JSON.parse(stdout) as Log };
}

const git = (cwd: string, ...a: string[]) =>
  execFileSync('git', a, {
    cwd,
    env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' },
  })
    .toString()
    .trim();

/** A repository with a guardrail, a policy it flags in a subfolder, and an https origin with credentials. */
function guardrailRepo(): string {
  const repo = temp('weir-sarif-repo-');
  git(repo, 'init', '-q', '-b', 'main');
  git(repo, 'remote', 'add', 'origin', 'https://user:secret@git.example.com/team/policies.git');
  mkdirSync(path.join(repo, 'policies', 'guardrails'), { recursive: true });
  writeFileSync(
    path.join(repo, 'policies', 'guardrails', 'no-world-ssh.yaml'),
    readFileSync(path.join(root, 'policies/guardrails/no-world-ssh.yaml')),
  );
  writeFileSync(
    path.join(repo, 'policies', 'ssh.yaml'),
    `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: ssh, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: bastion}}
  ingress:
  - fromEntities: [world]
    toPorts: [{ports: [{port: "22", protocol: TCP}]}]
`,
  );
  git(repo, 'add', '.');
  git(repo, 'commit', '-q', '-m', 'ssh');
  return repo;
}

describe('weir lint --format sarif', () => {
  it('validates against the official SARIF 2.1.0 schema (and the schema check can fail)', async () => {
    const bad = await lint(['bad'], fixtures);
    expect(bad.code).toBe(1);
    expect(sarifSchemaErrors(bad.log)).toEqual([]);
    const clean = await lint(['policies'], root);
    expect(clean.code).toBe(0);
    expect(sarifSchemaErrors(clean.log)).toEqual([]);
    // The validator rejects what the old output had: a relative base URI where an absolute one is required.
    const broken = structuredClone(bad.log);
    broken.runs[0]!.originalUriBaseIds = { [srcroot]: { uri: './' } };
    broken.runs[0]!.versionControlProvenance = [{ repositoryUri: '.' }];
    expect(sarifSchemaErrors(broken).join('\n')).toMatch(/repositoryUri[\s\S]*format|format[\s\S]*repositoryUri/);
  });

  it('the SARIF Multitool (SARIF and GitHub rules) reports no error or warning', async () => {
    const bad = await lint(['bad'], fixtures);
    expect(multitoolFindings(bad.text)).toEqual([]);
    const repo = guardrailRepo();
    const atRev = await lint(['policies', '--rev', 'HEAD'], repo);
    expect(atRev.log.runs[0]!.results.map((r) => r.ruleId)).toEqual(['guardrail/no-world-ssh']);
    expect(multitoolFindings(atRev.text)).toEqual([]);
    // and it does report the faults code scanning rejects: a rule without help, a relative base URI
    const broken = structuredClone(bad.log);
    delete broken.runs[0]!.tool.driver.rules[0]!.help;
    delete broken.runs[0]!.tool.driver.rules[0]!.fullDescription;
    broken.runs[0]!.originalUriBaseIds = { [srcroot]: { uri: './' } };
    const findings = multitoolFindings(JSON.stringify(broken));
    expect(findings.some((f) => f.startsWith('error GH2012'))).toBe(true);
    expect(findings.some((f) => f.startsWith('error SARIF1004'))).toBe(true);
  }, 180_000);

  it('URIs are relative to the repository root, with %SRCROOT% and no relative base', async () => {
    const { log } = await lint(['bad'], fixtures);
    const run = log.runs[0]!;
    expect(run.originalUriBaseIds).toBeUndefined();
    const op = run.results.find((r) => r.ruleId === 'cilium/operator-case')!;
    expect(op.locations[0]!.physicalLocation.artifactLocation).toEqual({
      uri: 'test/lint/fixtures/bad/mistakes.yaml',
      uriBaseId: '%SRCROOT%',
    });
    // the same from the repository root and from a folder inside it
    const fromRoot = await lint(['test/lint/fixtures/bad'], root);
    expect(fromRoot.log.runs[0]!.results.map((r) => r.locations[0]!.physicalLocation.artifactLocation.uri)).toEqual(
      run.results.map((r) => r.locations[0]!.physicalLocation.artifactLocation.uri),
    );
  });

  it('--rev: the origin without credentials and the commit as version control provenance; paths from the root wherever one stands', async () => {
    const repo = guardrailRepo();
    const commit = git(repo, 'rev-parse', 'HEAD');
    const { log, text } = await lint(['.', '--rev', 'HEAD'], path.join(repo, 'policies'));
    expect(log.runs[0]!.versionControlProvenance).toEqual([
      { repositoryUri: 'https://git.example.com/team/policies.git', revisionId: commit, mappedTo: { uriBaseId: '%SRCROOT%' } },
    ]);
    expect(text).not.toContain('secret');
    expect(log.runs[0]!.results[0]!.locations[0]!.physicalLocation.artifactLocation.uri).toBe('policies/ssh.yaml');
    git(repo, 'remote', 'set-url', 'origin', 'git@git.example.com:team/policies.git');
    expect((await lint(['.', '--rev', 'HEAD'], repo)).log.runs[0]!.versionControlProvenance![0]!.repositoryUri).toBe(
      'ssh://git.example.com/team/policies.git',
    );
    expect(sarifSchemaErrors(log)).toEqual([]);
  });

  it('partialFingerprints are the same across runs and when lines move, and differ between findings', async () => {
    const dir = temp('weir-sarif-fp-');
    const policy = readFileSync(path.join(fixtures, 'bad/mistakes.yaml'), 'utf8');
    writeFileSync(path.join(dir, 'p.yaml'), policy);
    const first = (await lint(['p.yaml'], dir)).log.runs[0]!.results;
    const again = (await lint(['p.yaml'], dir)).log.runs[0]!.results;
    expect(again.map((r) => r.partialFingerprints)).toEqual(first.map((r) => r.partialFingerprints));
    const prints = first.map((r) => r.partialFingerprints![fingerprintKey]!);
    expect(prints.every((p) => /^[0-9a-f]{32}:\d+$/.test(p))).toBe(true);
    expect(new Set(prints).size).toBe(prints.length);
    // five comment lines above everything: every finding moves down five lines, its fingerprint stays
    writeFileSync(path.join(dir, 'p.yaml'), `# a\n# b\n# c\n# d\n# e\n${policy}`);
    const moved = (await lint(['p.yaml'], dir)).log.runs[0]!.results;
    expect(moved.map((r) => r.locations[0]!.physicalLocation.region.startLine)).toEqual(
      first.map((r) => r.locations[0]!.physicalLocation.region.startLine + 5),
    );
    expect(moved.map((r) => r.partialFingerprints)).toEqual(first.map((r) => r.partialFingerprints));
    // fixing one finding changes nothing for the others
    writeFileSync(path.join(dir, 'p.yaml'), policy.replace('operator: in', 'operator: In'));
    const after = (await lint(['p.yaml'], dir)).log.runs[0]!.results;
    expect(after.length).toBe(first.length - 1);
    expect(after.map((r) => r.partialFingerprints![fingerprintKey])).toEqual(
      first.filter((r) => r.ruleId !== 'cilium/operator-case').map((r) => r.partialFingerprints![fingerprintKey]),
    );
  });

  it('every rule has a name, full description, help and a helpUri whose anchor is in docs/lint-rules.md', async () => {
    const repo = guardrailRepo();
    const logs = [(await lint(['bad'], fixtures)).log, (await lint(['policies'], repo)).log];
    const doc = readFileSync(path.join(root, 'docs/lint-rules.md'), 'utf8');
    const rules = logs.flatMap((l) => l.runs[0]!.tool.driver.rules);
    expect(rules.length).toBeGreaterThanOrEqual(11);
    for (const log of logs) expect(log.runs[0]!.tool.driver.informationUri).toMatch(/^https:\/\//);
    for (const r of rules) {
      expect(r.name, r.id).toMatch(/^[A-Z][A-Za-z0-9]+$/);
      expect(r.shortDescription?.text.length, r.id).toBeGreaterThan(10);
      expect(r.fullDescription?.text.length, r.id).toBeGreaterThan(30);
      expect(r.help?.text.length, r.id).toBeGreaterThan(30);
      expect(r.help?.markdown, r.id).toBeTruthy();
      expect(r.fullDescription?.text).not.toMatch(/^weir check /);
      const anchor = new URL(r.helpUri!).hash.slice(1);
      expect(doc, `${r.id} -> #${anchor}`).toContain(`<a id="${anchor}"></a>`);
    }
    const g = rules.find((r) => r.id === 'guardrail/no-world-ssh')!;
    expect(g.shortDescription!.text).toBe('Ingress from the world (entities world/all, or any CIDR) must not allow port 22.');
    expect(g.fullDescription!.text).toContain('policies/guardrails/no-world-ssh.yaml:');
    expect(codeAnchor('schema/unknown-field')).toBe('schema-unknown-field');
  });
});
