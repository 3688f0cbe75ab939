// Fuzz targets: every parser weir exposes to outside input and every CLI entry that reads files.
// Inputs are mutations of real seeds (the bundled policies, the upstream corpus, observed-event
// samples): byte edits, hostile tokens (deep brackets, NUL, 1e400, escape sequences, huge
// strings), and structural edits of the parsed YAML. A crash is a parser throwing where it
// answers with diagnostics, a programming error (TypeError, RangeError) where it throws by design,
// or a CLI exit with "internal error"; a hang is a case over the time limit.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import type { CommandIO } from '../../cli/command.js';
import { main } from '../../cli/main.js';
import { buildFromDocuments } from '../../compiler/build.js';
import { parseCondition } from '../../compiler/convert/falco/parser.js';
import { mdCode, mdText, terminalOutput, terminalSafe } from '../../compiler/escape.js';
import { loadInventory } from '../../compiler/inventory/load.js';
import { compileNetwork } from '../../compiler/ir/network/index.js';
import { compileRuntime } from '../../compiler/lower/runtime/index.js';
import { lintDocuments } from '../../compiler/lint/index.js';
import { validateAgainst } from '../../compiler/lint/schema.js';
import { loadSources } from '../../compiler/load/index.js';
import { parseYamlDocuments } from '../../compiler/load/yaml.js';
import { capabilityProfiles } from '../../compiler/lower/runtime/capabilities.js';
import { parseHubbleFlows } from '../../compiler/observed/hubble.js';
import { parseTetragonEvents } from '../../compiler/observed/tetragon.js';
import { imageRuntimeOracle } from '../../compiler/plan/runtime.js';
import { applyBlobDelta, applyManifestDelta, nodeManifest, parseNodeManifest, parseTimestamp } from '../../controller/bundle/codec.js';
import { normalizeState } from '../../controller/reconcile/state.js';
import { checkBranch, classifyRepository } from '../../controller/reconcile/source.js';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface Target {
  name: string;
  /** Seed texts the mutations start from. */
  seeds: () => string[];
  /** Runs one input; throws only on a crash (see isCrash). */
  run(input: string): Promise<void> | void;
  /** Errors the target throws by design for bad input (an answer, not a crash). */
  expected?: (e: unknown) => boolean;
  /** CLI targets are slower: the long run gives them fewer cases. */
  cli?: boolean;
}

/** A programming error or a non-Error throw; anything else a target declares expected is an answer. */
export function isCrash(t: Target, e: unknown): boolean {
  if (!(e instanceof Error)) return true;
  if (e instanceof TypeError || e instanceof RangeError || e instanceof ReferenceError) return true;
  return !(t.expected?.(e) ?? false);
}

const files = (dir: string, re = /\.ya?ml$/): string[] => {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const f of readdirSync(d).sort()) {
      const p = path.join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (re.test(f) && statSync(p).size < 200_000) out.push(p);
    }
  };
  walk(path.join(root, dir));
  return out;
};
const read = (ps: string[]) => ps.map((p) => readFileSync(p, 'utf8'));
const once = <T>(f: () => T): (() => T) => {
  let v: T | undefined;
  return () => (v ??= f());
};

const policySeeds = once(() =>
  read([
    ...files('policies/network'),
    ...files('policies/runtime'),
    ...files('test/corpus/cilium').slice(0, 60),
    ...files('test/corpus/tetragon').slice(0, 40),
  ]),
);
const inventoryText = once(() => readFileSync(path.join(root, 'policies/inventory.yaml'), 'utf8'));
const falcoSeeds = once(() => {
  // Rule-sized slices of the Falco corpus: a few macros, lists and rules each.
  const text = readFileSync(path.join(root, 'test/corpus/falco/falco_rules.yaml'), 'utf8');
  const items = text.split(/\n(?=- (?:rule|macro|list):)/);
  const out: string[] = [];
  for (let i = 0; i < items.length; i += 12) out.push(items.slice(i, i + 12).join('\n'));
  return out.slice(0, 30);
});
const pspSeeds = once(() => read(files('test/convert/fixtures').filter((f) => /psp/.test(f))));
const hubbleSeeds = () => [
  '{"flow":{"time":"2024-01-01T00:00:00Z","verdict":"FORWARDED","IP":{"source":"10.0.0.11","destination":"10.0.0.10"},"l4":{"TCP":{"source_port":40000,"destination_port":80}},"source":{"namespace":"default","pod_name":"tiefighter","labels":["k8s:org=empire"]},"destination":{"namespace":"default","pod_name":"deathstar"},"Type":"L3_L4","is_reply":false}}',
];
const tetragonSeeds = () => [
  '{"process_kprobe":{"process":{"binary":"/bin/cat","pod":{"namespace":"default","name":"xwing","pod_labels":{"org":"alliance"}}},"function_name":"__x64_sys_openat","args":[{"int_arg":-100},{"string_arg":"/etc/shadow"},{"int_arg":0}],"action":"KPROBE_ACTION_SIGKILL","policy_name":"protect-shadow"},"node_name":"node-a","time":"2024-01-01T00:00:00Z"}',
];

// --- mutations ------------------------------------------------------------------------------

const hostile = [
  '[',
  ']',
  '{',
  '}',
  ': ',
  '- ',
  '&a ',
  '*a',
  '!!binary ',
  '!!js/function ',
  '\u0000',
  '1e400',
  '-1',
  '18446744073709551616',
  'NaN',
  '~',
  '"',
  "'",
  '\t',
  '\n',
  '\r',
  '\u202e',
  '\u001b]0;x\u0007',
  '<!--',
  'a'.repeat(300),
  '0x10',
  '::',
  '%',
  '{{',
  '}}',
  '|',
  '>',
  '---\n',
  '...\n',
  '`',
  '? ',
  '<<: *a',
  'null',
  '[[[[[[[[[[[[[[[[',
  '\uFEFF',
  '\uD800',
  '9'.repeat(40),
  'ext::sh -c x',
];

/** Random edits of one seed: byte replacements, hostile tokens, deletions, duplication. */
const textMutation = (seeds: string[]) =>
  fc
    .tuple(
      fc.nat(seeds.length - 1),
      fc.array(
        fc.tuple(
          fc.nat(),
          fc.nat(4),
          fc.oneof(fc.constantFrom(...hostile), fc.string({ maxLength: 8 }), fc.string({ unit: 'binary', maxLength: 4 })),
        ),
        { minLength: 1, maxLength: 6 },
      ),
    )
    .map(([i, edits]) => {
      let s = seeds[i]!;
      for (const [pos, kind, tok] of edits) {
        const at = s.length ? pos % (s.length + 1) : 0;
        if (kind === 0)
          s = s.slice(0, at) + tok + s.slice(at); // insert
        else if (kind === 1)
          s = s.slice(0, at) + tok + s.slice(at + tok.length); // overwrite
        else if (kind === 2)
          s = s.slice(0, at) + s.slice(at + (pos % 40)); // delete
        else if (kind === 3)
          s = s.slice(0, at) + tok.repeat(1 + (pos % 200)) + s.slice(at); // repeat a token (depth, size)
        else s = s.slice(0, at) + s.slice(at, at + 200) + s.slice(at); // duplicate a stretch
      }
      return s;
    });

/** Replace one node of the parsed seed with an arbitrary JSON value and print it back as YAML. */
const structuralMutation = (seeds: string[]) =>
  fc
    .tuple(fc.nat(seeds.length - 1), fc.array(fc.nat(), { minLength: 1, maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), fc.boolean())
    .map(([i, walk, value, asJson]) => {
      let doc: unknown;
      try {
        doc = parseYaml(seeds[i]!.split(/\n---\n/)[0]!);
      } catch {
        return seeds[i]!;
      }
      if (doc === null || typeof doc !== 'object') return seeds[i]!;
      let node = doc as Record<string, unknown>;
      for (let d = 0; d < walk.length; d++) {
        const keys = Object.keys(node);
        if (keys.length === 0) break;
        const k = keys[walk[d]! % keys.length]!;
        const child = node[k];
        if (d === walk.length - 1 || child === null || typeof child !== 'object') {
          node[k] = value;
          break;
        }
        node = child as Record<string, unknown>;
      }
      return asJson ? JSON.stringify(doc) : toYaml(doc);
    });

export function inputs(t: Target): fc.Arbitrary<string> {
  const seeds = t.seeds();
  return fc.oneof(
    { weight: 5, arbitrary: textMutation(seeds) },
    { weight: 3, arbitrary: structuralMutation(seeds) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
  );
}

// --- targets --------------------------------------------------------------------------------

const fileOf = (text: string) => [{ file: 'fuzz.yaml', bytes: Buffer.from(text) }];
const invDocs = once(() => loadSources([{ file: 'inventory.yaml', bytes: Buffer.from(inventoryText()) }]).documents);
const inventory = once(() => loadInventory(invDocs()).inventory);
const codecBase = once(() => {
  const m = {
    apiVersion: 'weir.dev/v1alpha1' as const,
    kind: 'Bundle' as const,
    source: { paths: ['.'] },
    compiler: { version: 't' },
    abi: { digest: '0'.repeat(64), version: 1 },
    nodes: [{ node: 'node-a', maps: [] }],
    tables: [],
  };
  return nodeManifest(m, '1'.repeat(64), 'node-a', { sequence: 1, revision: 'r' });
});
const shadowPolicy = once(
  () => loadSources([{ file: 'p.yaml', bytes: readFileSync(path.join(root, 'policies/runtime/protect-shadow.yaml')) }]).documents,
);
const oracle = once(() => imageRuntimeOracle(shadowPolicy()));

/** Answers an error by design: plain Error and SyntaxError (JSON.parse) say "bad input". */
const plainError = (e: unknown) =>
  e instanceof Error && (e.constructor === Error || e instanceof SyntaxError || e.name === 'SourceRefused');

export const parserTargets: Target[] = [
  { name: 'yaml', seeds: policySeeds, run: (s) => void parseYamlDocuments('fuzz.yaml', s) },
  {
    name: 'load+lint',
    seeds: policySeeds,
    run: (s) => {
      const l = loadSources(fileOf(s));
      lintDocuments(l.documents, { prior: l.diagnostics, inventory: inventory() });
    },
  },
  { name: 'network-compile', seeds: policySeeds, run: (s) => void compileNetwork(loadSources(fileOf(s)).documents, inventory()) },
  {
    name: 'runtime-compile',
    seeds: policySeeds,
    run: (s) => void compileRuntime(loadSources(fileOf(s)).documents, [{ name: 'node-a', caps: capabilityProfiles['full']! }]),
  },
  {
    name: 'build',
    seeds: policySeeds,
    run: async (s) => {
      const docs = loadSources(fileOf(s)).documents.filter((d) => d.family === 'network' || d.family === 'runtime' || d.family === 'psp');
      await buildFromDocuments(docs, inventory(), {
        source: { paths: ['.'] },
        producers: [(await import('../../compiler/lower/runtime/images.js')).imageProducer],
      });
    },
  },
  {
    name: 'falco-condition',
    seeds: () =>
      falcoSeeds()
        .flatMap((t) => [...t.matchAll(/condition: >?\n?([^\n]+(?:\n {4}[^\n]+)*)/g)].map((m) => m[1]!))
        .slice(0, 60),
    run: (s) => void parseCondition(s),
  },
  { name: 'hubble-flows', seeds: hubbleSeeds, run: (s) => void parseHubbleFlows(s) },
  {
    name: 'tetragon-events',
    seeds: tetragonSeeds,
    run: (s) => {
      const r = parseTetragonEvents(s);
      const o = oracle();
      for (const e of r.items) o?.(e);
    },
  },
  {
    name: 'agent-report',
    seeds: () => [
      '{"applied":{"revision":"r","digest":"' +
        'a'.repeat(64) +
        '","sequence":3},"dropRate":0.5,"maps":[{"name":"policy","entries":3}],"timings":{"loadMs":1,"swapMs":1}}',
    ],
    run: (s) => void validateAgainst('agent-status', JSON.parse(s)),
    expected: plainError,
  },
  {
    name: 'node-manifest',
    seeds: () => [codecBase().bytes.toString()],
    run: (s) => void parseNodeManifest(Buffer.from(s)),
    expected: plainError,
  },
  {
    name: 'timestamp',
    seeds: () => ['{"expires":2,"issuedAt":1,"kind":"NodeTimestamp","manifest":"' + 'a'.repeat(64) + '","node":"n","sequence":1}'],
    run: (s) => void parseTimestamp(Buffer.from(s)),
    expected: plainError,
  },
  {
    name: 'manifest-delta',
    seeds: () => [
      '{"kind":"NodeBundleDelta","base":"a","target":"b","set":{"bundle":"c","sequence":2,"revision":"r"},"maps":{"remove":[],"put":[]},"tables":{"remove":[],"put":[]}}',
    ],
    run: (s) => void applyManifestDelta(codecBase().manifest, JSON.parse(s)),
    expected: plainError,
  },
  {
    name: 'blob-delta',
    seeds: () => [
      '{"kind":"BlobDelta","base":"a","target":"b","record":4,"ops":[[0,1],"AAAAAA=="]}',
      '{"kind":"BlobDelta","base":"a","target":"b","record":0,"ops":[[0,1],"{\\"a\\":1}"]}',
    ],
    run: (s) => void applyBlobDelta(Buffer.from('[{"a":1},{"b":2}]'), JSON.parse(s)),
    expected: plainError,
  },
  {
    name: 'state-json',
    seeds: () => [
      '{"desired":{"node-a":{"revision":"r","digest":"' +
        'a'.repeat(64) +
        '","sequence":1}},"sequence":1,"lastSeenCommit":"' +
        'b'.repeat(40) +
        '","current":{"revision":"r","digest":"' +
        'a'.repeat(64) +
        '","phase":"Canary","startedAt":"x","canaries":["node-a"],"baseline":{"node-a":0}}}',
    ],
    run: (s) => void normalizeState(JSON.parse(s)),
    expected: plainError,
  },
  {
    name: 'repository-url',
    seeds: () => ['https://example.com/r.git', 'git@example.com:r.git', '/srv/repo', 'file:///srv/repo', 'main'],
    run: (s) => {
      try {
        classifyRepository(s);
      } catch (e) {
        if (!plainError(e)) throw e;
      }
      checkBranch(s);
    },
    expected: plainError,
  },
  {
    name: 'escaping',
    seeds: policySeeds,
    run: (s) => {
      // Escaping never throws, and its output never carries what it removes.
      if (/[\u0000-\u0008\u000a-\u001f\u007f]/.test(terminalSafe(s))) throw new TypeError('terminalSafe let a control character through');
      if (/[<>]/.test(mdText(s))) throw new TypeError('mdText let an angle bracket through');
      mdCode(s);
      if (/\u001b\](?!\\)/.test(terminalOutput(s))) throw new TypeError('terminalOutput let an OSC through');
    },
  },
];

// --- CLI entries ------------------------------------------------------------------------------

export interface CliRun {
  code: number;
  stderr: string;
}

async function runCli(args: string[], cwd: string): Promise<CliRun> {
  let out = '';
  let err = '';
  const io: CommandIO = { stdout: (s) => void (out += s), stderr: (s) => void (err += s), cwd, env: {}, isTTY: false };
  const code = await main(args, io);
  void out;
  return { code, stderr: err };
}

/** A CLI run crashed when it reports an internal error (exit 2 with "internal error"). */
function cliCheck(r: CliRun): void {
  if (/internal error/.test(r.stderr)) throw new TypeError(`internal error: ${r.stderr.slice(0, 300)}`);
}

/** A work directory per CLI target: the inventory beside the fuzzed file, a Git repository for plan. */
const workDir = once(() => {
  const d = mkdtempSync(path.join(os.tmpdir(), 'weir-fuzz-'));
  mkdirSync(path.join(d, 'policies'));
  writeFileSync(path.join(d, 'policies/inventory.yaml'), inventoryText());
  const git = (...a: string[]) =>
    execFileSync('git', ['-c', 'user.email=f@weir.invalid', '-c', 'user.name=f', '-c', 'commit.gpgsign=false', ...a], {
      cwd: d,
      stdio: 'pipe',
    });
  git('init', '-q', '-b', 'main');
  writeFileSync(path.join(d, 'policies/p.yaml'), readFileSync(path.join(root, 'policies/network/starwars/deathstar.yaml')));
  git('add', '-A');
  git('commit', '-q', '-m', 'base');
  git('tag', 'base');
  process.on('exit', () => rmSync(d, { recursive: true, force: true }));
  return { dir: d, git };
});

const cliTarget = (
  name: string,
  seeds: () => string[],
  args: (file: string, dir: string) => string[],
  file = 'policies/p.yaml',
): Target => ({
  name: `cli ${name}`,
  cli: true,
  seeds,
  run: async (s) => {
    const { dir } = workDir();
    writeFileSync(path.join(dir, file), s);
    cliCheck(await runCli(args(file, dir), dir));
  },
});

export const cliTargets: Target[] = [
  cliTarget('lint', policySeeds, (f) => ['lint', f]),
  cliTarget('lint --format github', policySeeds, (f) => ['lint', f, '--format', 'github']),
  cliTarget('build', policySeeds, (_f, d) => ['build', 'policies', '--out', path.join(d, 'out')]),
  cliTarget(
    'test',
    () => read(files('policies/tests').slice(0, 4)),
    (f) => ['test', f],
  ),
  cliTarget('connectivity', policySeeds, () => ['connectivity', 'policies']),
  cliTarget('convert falco', falcoSeeds, (f) => ['convert', 'falco', f], 'rules.yaml'),
  cliTarget('convert psp', pspSeeds, (f) => ['convert', 'psp', f], 'psp.yaml'),
  cliTarget('render', policySeeds, () => ['render', 'policies']),
  {
    name: 'cli plan',
    cli: true,
    seeds: policySeeds,
    run: async (s) => {
      const { dir, git } = workDir();
      writeFileSync(path.join(dir, 'policies/p.yaml'), s);
      git('add', '-A');
      git('commit', '-q', '--allow-empty', '-m', 'head');
      cliCheck(await runCli(['plan', '--base', 'base', '--head', 'HEAD', 'policies', '--format', 'markdown'], dir));
    },
  },
  cliTarget(
    'plan --events',
    tetragonSeeds,
    () => ['plan', '--base', 'base', '--head', 'base', 'policies', '--events', 'events.jsonl'],
    'events.jsonl',
  ),
  cliTarget(
    'plan --flows',
    hubbleSeeds,
    () => ['plan', '--base', 'base', '--head', 'base', 'policies', '--flows', 'flows.jsonl'],
    'flows.jsonl',
  ),
];

export const targets: Target[] = [...parserTargets, ...cliTargets];

export interface TargetResult {
  target: string;
  runs: number;
  crashes: number;
  hangs: number;
  /** The first few failures: seed and index reproduce them (fc.sample(inputs(target), {seed, numRuns})). */
  failures: { seed: number; index: number; kind: 'crash' | 'hang'; message: string; input: string }[];
  ms: number;
}

/** Runs `runs` inputs of `t` from `seed`, counting crashes and cases over `hangMs`. */
export async function fuzzTarget(t: Target, runs: number, seed: number, hangMs: number): Promise<TargetResult> {
  const started = performance.now();
  const cases = fc.sample(inputs(t), { seed, numRuns: runs });
  const r: TargetResult = { target: t.name, runs: cases.length, crashes: 0, hangs: 0, failures: [], ms: 0 };
  for (let i = 0; i < cases.length; i++) {
    const t0 = performance.now();
    try {
      await t.run(cases[i]!);
    } catch (e) {
      if (isCrash(t, e)) {
        r.crashes++;
        if (r.failures.length < 5)
          r.failures.push({
            seed,
            index: i,
            kind: 'crash',
            message: `${(e as Error).name ?? typeof e}: ${String((e as Error).message ?? e).slice(0, 300)}`,
            input: cases[i]!.slice(0, 400),
          });
      }
    }
    const ms = performance.now() - t0;
    if (ms > hangMs) {
      r.hangs++;
      if (r.failures.length < 5)
        r.failures.push({ seed, index: i, kind: 'hang', message: `${Math.round(ms)} ms`, input: cases[i]!.slice(0, 400) });
    }
  }
  r.ms = performance.now() - started;
  return r;
}
