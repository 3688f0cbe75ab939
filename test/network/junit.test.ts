// `weir test --format junit` as CI servers read it: valid against Jenkins' junit-10.xsd (vendored
// under test/schemas/junit, checked with xmllint), counts and times on suites and cases, a wrong
// verdict as <failure>, policies that do not compile as <error>, control characters made safe.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CommandIO } from '../../cli/command.js';
import { testCommand } from '../../cli/test.js';
import { toJunit } from '../../compiler/policytest/run.js';

const root = path.resolve(import.meta.dirname, '../..');
const xsd = path.join(root, 'test/schemas/junit/junit-10.xsd');
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** xmllint's verdict on a document against junit-10.xsd: '' when valid, else its messages. */
function xsdErrors(xml: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-junit-'));
  dirs.push(dir);
  const f = path.join(dir, 'report.xml');
  writeFileSync(f, xml);
  const r = spawnSync('xmllint', ['--noout', '--schema', xsd, f], { encoding: 'utf8' });
  if (r.error) throw new Error(`xmllint is needed (Debian package libxml2-utils, installed by scripts/setup.sh): ${r.error.message}`);
  return r.status === 0 ? '' : r.stderr;
}

async function weirTest(paths: string[], cwd = root): Promise<{ code: number; out: string }> {
  let out = '';
  const io: CommandIO = { stdout: (s) => void (out += s), stderr: () => {}, cwd, env: { NO_COLOR: '1' }, isTTY: false };
  const code = await testCommand.run([...paths, '--format', 'junit'], io);
  return { code, out };
}

const attrs = (tag: string) => Object.fromEntries([...tag.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));

describe('weir test --format junit', () => {
  it('the bundled suites: valid against junit-10.xsd, with counts and times on every suite and case', async () => {
    const { code, out } = await weirTest(['policies/tests']);
    expect(code).toBe(0);
    expect(xsdErrors(out)).toBe('');
    const suites = [...out.matchAll(/<testsuite [^>]*>/g)].map((m) => attrs(m[0]));
    expect(suites.length).toBeGreaterThan(3);
    for (const s of suites) {
      expect(Object.keys(s)).toEqual(['name', 'tests', 'failures', 'errors', 'skipped', 'time', 'file']);
      expect(s['time']).toMatch(/^\d+\.\d{3}$/);
    }
    const cases = [...out.matchAll(/<testcase [^>]*>/g)].map((m) => attrs(m[0]));
    expect(cases.length).toBe(suites.reduce((n, s) => n + Number(s['tests']), 0));
    for (const c of cases) expect(c['time']).toMatch(/^\d+\.\d{3}$/);
    expect(attrs(/<testsuites [^>]*>/.exec(out)![0])).toMatchObject({ tests: String(cases.length), failures: '0', errors: '0' });
  }, 60_000);

  it('the validator can fail: the old shape (no errors attribute, raw control characters) is rejected', () => {
    expect(
      xsdErrors(
        '<?xml version="1.0"?>\n<testsuites><testsuite name="a" tests="1" failures="0"><testcase name="x"/></testsuite></testsuites>\n',
      ),
    ).toMatch(/errors.*required/);
    expect(
      xsdErrors(
        '<?xml version="1.0"?>\n<testsuites><testsuite name="a\x1b[31m" tests="1" failures="0" errors="0"><testcase name="x"/></testsuite></testsuites>\n',
      ),
    ).not.toBe('');
  });

  it('a wrong verdict is a <failure>, policies that do not compile an <error> naming the diagnostic, a malformed case an <error>', async () => {
    const d = mkdtempSync(path.join(root, '.weir-junit-'));
    dirs.push(d);
    await mkdir(d, { recursive: true });
    await writeFile(
      path.join(d, 'verdicts.yaml'),
      `apiVersion: weir.dev/v1alpha1
kind: PolicyTest
metadata: {name: verdicts}
spec:
  policies: [../policies/network/]
  inventory: ../policies/inventory.yaml
  cases:
  - name: wrong on purpose
    from: {workload: default/xwing}
    to: {workload: default/deathstar-6fb5694d48-5hmds}
    port: 80
    expect: allow
  - name: no expectation
    from: {workload: default/xwing}
    to: {workload: default/deathstar-6fb5694d48-5hmds}
    port: 80
    expect: maybe
`,
    );
    await writeFile(
      path.join(d, 'broken.yaml'),
      `apiVersion: weir.dev/v1alpha1
kind: PolicyTest
metadata: {name: broken}
spec:
  policies:
  - apiVersion: cilium.io/v2
    kind: CiliumNetworkPolicy
    metadata: {name: bad-port, namespace: default}
    spec:
      endpointSelector: {}
      ingress: [{toPorts: [{ports: [{port: "99999", protocol: TCP}]}]}]
  inventory: {pods: [{name: a, namespace: default, ip: 10.0.0.1}]}
  cases:
  - {name: cannot run, from: {workload: default/a}, to: {workload: default/a}, port: 80, expect: allow}
`,
    );
    const { code, out } = await weirTest([path.relative(root, d)]);
    expect(code).toBe(1);
    expect(xsdErrors(out)).toBe('');
    expect(out).toMatch(
      /<testcase classname="[^"]*verdicts\.yaml" name="wrong on purpose" time="[\d.]+">\s*<failure message="expected allow, got deny">[^<]*verdicts\.yaml:8: deny/,
    );
    expect(out).toMatch(
      /name="no expectation" time="[\d.]+">\s*<error message="expect must be allow or deny for a network case, not &quot;maybe&quot;" type="invalid-case">/,
    );
    expect(out).toMatch(
      /name="cannot run" time="[\d.]+">\s*<error message="the policies or inventory of this test do not compile" type="compile">[^<]*broken\.yaml:11:\d+: [^<]*99999[^<]*\[network\/invalid-port\]/,
    );
    const top = attrs(/<testsuites [^>]*>/.exec(out)![0]);
    expect(top).toMatchObject({ tests: '3', failures: '1', errors: '2' });
    const broken = [...out.matchAll(/<testsuite [^>]*>/g)].map((m) => attrs(m[0])).find((s) => s['name']!.endsWith('broken.yaml'))!;
    expect(broken).toMatchObject({ tests: '1', failures: '0', errors: '1', skipped: '0' });
  }, 60_000);

  it('a test file that does not load is an errored case of its own', async () => {
    const d = mkdtempSync(path.join(root, '.weir-junit-'));
    dirs.push(d);
    await writeFile(path.join(d, 'broken.yaml'), 'apiVersion: weir.dev/v1alpha1\nkind: PolicyTest\nmetadata: {name: x\nspec: [\n');
    const { code, out } = await weirTest([path.relative(root, d)]);
    expect(code).toBe(1);
    expect(xsdErrors(out)).toBe('');
    expect(out).toMatch(
      /<testcase classname="[^"]*broken\.yaml" name="load\/yaml-syntax at line \d+" time="0\.000">\s*<error message="[^"]+" type="load\/yaml-syntax">/,
    );
    const top = attrs(/<testsuites [^>]*>/.exec(out)![0]);
    expect(top).toMatchObject({ failures: '0', errors: top['tests'] });
    expect(Number(top['tests'])).toBeGreaterThan(0);
  });

  it('names with control characters, markup and broken surrogates stay well-formed XML', () => {
    const name = 'evil \x1b[31mred\x1b[0m <b>&"quote"\x00\x07\ttab\nline \ud800 \uffff';
    const xml = toJunit({
      results: [
        { file: 'a\x01.yaml', name, expect: 'allow', actual: 'deny', ok: false, detail: 'why\x08 </failure>', line: 3, time: 0.0123 },
      ],
      diagnostics: [],
    });
    expect(xsdErrors(xml)).toBe('');
    expect(xml).not.toMatch(/[\x00-\x08\x0b\x0c\x0e-\x1f]/);
    expect(xml).toContain(
      'name="evil \\u001B[31mred\\u001B[0m &lt;b&gt;&amp;&quot;quote&quot;\\u0000\\u0007&#9;tab&#10;line \\uD800 \\uFFFF" time="0.012"',
    );
    // xmllint reads the name back as written, with tab and newline kept
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-junit-'));
    dirs.push(dir);
    writeFileSync(path.join(dir, 'r.xml'), xml);
    const back = execFileSync('xmllint', ['--xpath', 'string(//testcase/@name)', path.join(dir, 'r.xml')], { encoding: 'utf8' });
    expect(back).toBe('evil \\u001B[31mred\\u001B[0m <b>&"quote"\\u0000\\u0007\ttab\nline \\uD800 \\uFFFF\n');
  });
});
