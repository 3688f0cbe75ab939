// deploy/: the Argo CD health check (Lua, run with fengari) against every status shape, the
// status the controller writes read back through that Lua, and every manifest validated against
// its schema: Kubernetes objects against the generated models of @kubernetes/client-node, the
// PolicyRollout samples against the CRD's own openAPIV3Schema, Flux and Argo CD objects against
// the fields their documentation defines.
import { describe, expect, it } from 'vitest';
import { promises as fs, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { Ajv } from 'ajv';
import { parseAllDocuments, parse } from 'yaml';
import { rolloutStatus, type ControllerView } from '../../controller/kube/rollout-status.js';
import type { RolloutPhase } from '../../controller/reconcile/state.js';
import { projectRoot } from './harness.js';
import { customResourceValidators, kubeErrors } from '../support/kube.js';

const deploy = path.join(projectRoot, 'deploy');
const healthDir = path.join(deploy, 'argocd/health/weir.dev/PolicyRollout');

// --- Lua through fengari ----------------------------------------------------------------------

interface Fengari {
  lua: Record<string, (...a: unknown[]) => unknown> & Record<string, number>;
  lauxlib: Record<string, (...a: unknown[]) => unknown>;
  lualib: Record<string, (...a: unknown[]) => unknown>;
  to_luastring(s: string): Uint8Array;
  to_jsstring(s: Uint8Array): string;
}
const fengari = createRequire(import.meta.url)('fengari') as Fengari;

function pushValue(L: unknown, v: unknown): void {
  const { lua, to_luastring } = fengari;
  if (v === null || v === undefined) lua['lua_pushnil']!(L);
  else if (typeof v === 'boolean') lua['lua_pushboolean']!(L, v ? 1 : 0);
  else if (typeof v === 'number') Number.isInteger(v) ? lua['lua_pushinteger']!(L, v) : lua['lua_pushnumber']!(L, v);
  else if (typeof v === 'string') lua['lua_pushstring']!(L, to_luastring(v));
  else if (Array.isArray(v)) {
    lua['lua_createtable']!(L, v.length, 0);
    v.forEach((x, i) => {
      pushValue(L, x);
      lua['lua_rawseti']!(L, -2, i + 1);
    });
  } else {
    lua['lua_createtable']!(L, 0, 0);
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      pushValue(L, x);
      lua['lua_setfield']!(L, -2, to_luastring(k));
    }
  }
}

/** Runs health.lua with `obj` bound, as Argo CD does; returns hs.status and hs.message. */
function runHealth(obj: unknown): { status: string; message: string } {
  const { lua, lauxlib, lualib, to_luastring, to_jsstring } = fengari;
  const L = lauxlib['luaL_newstate']!();
  lualib['luaL_openlibs']!(L);
  pushValue(L, obj);
  lua['lua_setglobal']!(L, to_luastring('obj'));
  const src = readFileSync(path.join(healthDir, 'health.lua'), 'utf8');
  if (lauxlib['luaL_loadstring']!(L, to_luastring(src)) !== 0 || lua['lua_pcall']!(L, 0, 1, 0) !== 0) {
    throw new Error(`health.lua failed: ${to_jsstring(lua['lua_tostring']!(L, -1) as Uint8Array)}`);
  }
  const field = (name: string) => {
    lua['lua_getfield']!(L, -1, to_luastring(name));
    const s = lua['lua_tostring']!(L, -1) as Uint8Array | null;
    lua['lua_pop']!(L, 1);
    return s ? to_jsstring(s) : '';
  };
  return { status: field('status'), message: field('message') };
}

describe('Argo CD health check for PolicyRollout', () => {
  const cases = (
    parse(readFileSync(path.join(healthDir, 'health_test.yaml'), 'utf8')) as {
      tests: { healthStatus: { status: string; message: string }; inputPath: string }[];
    }
  ).tests;
  it('has a case for every status shape', () => {
    expect(cases.map((c) => c.healthStatus.status).sort()).toEqual([
      'Degraded',
      'Degraded',
      'Healthy',
      'Progressing',
      'Progressing',
      'Progressing',
      'Suspended',
    ]);
  });
  for (const c of cases) {
    it(`${c.inputPath} is ${c.healthStatus.status}`, () => {
      const obj = parse(readFileSync(path.join(healthDir, c.inputPath), 'utf8')) as unknown;
      expect(runHealth(obj)).toEqual(c.healthStatus);
    });
  }

  const view = (phase: RolloutPhase, extra: Partial<ControllerView> = {}): ControllerView => ({
    phase,
    current: { revision: '9b1d2aa0000000000000000000000000000000000', digest: 'd'.repeat(64) },
    lastGood: { revision: '4f2c1e00000000000000000000000000000000000' },
    lastError: null,
    nodes: [{ state: 'applied' }, { state: 'applied' }, { state: 'applying' }],
    ...extra,
  });
  const expected: [RolloutPhase, string, Partial<ControllerView>?][] = [
    ['Complete', 'Healthy'],
    ['Canary', 'Progressing'],
    ['Rolling', 'Progressing'],
    ['Compiling', 'Progressing'],
    ['Idle', 'Progressing'],
    ['RolledBack', 'Degraded', { lastError: { message: 'rolled back: canary node-a: drop rate rose' } }],
    ['CompileFailed', 'Degraded', { lastError: { message: 'commit 7c0ffee does not compile' } }],
    ['Degraded', 'Degraded', { lastError: { message: '1 node(s) did not apply it' } }],
  ];
  for (const [phase, health, extra] of expected) {
    it(`the status the controller writes in phase ${phase} reads as ${health}`, () => {
      const status = rolloutStatus(view(phase, extra), 4);
      const obj = { apiVersion: 'weir.dev/v1alpha1', kind: 'PolicyRollout', metadata: { name: 'p', generation: 4 }, spec: {}, status };
      const hs = runHealth(obj);
      expect(hs.status).toBe(health);
      if (extra?.lastError) expect(hs.message).toBe(extra.lastError.message);
      expect(runHealth({ ...obj, metadata: { name: 'p', generation: 5 } }).status).toBe('Progressing');
    });
  }

  it('keeps lastTransitionTime while a condition keeps its status', () => {
    const t1 = new Date('2026-01-01T00:00:00Z');
    const a = rolloutStatus(view('Canary'), 1, [], t1);
    const b = rolloutStatus(view('Rolling'), 1, a.conditions, new Date('2026-01-01T00:01:00Z'));
    expect(b.conditions.find((c) => c.type === 'Reconciling')?.lastTransitionTime).toBe(t1.toISOString());
    const c = rolloutStatus(view('Complete'), 1, b.conditions, new Date('2026-01-01T00:02:00Z'));
    expect(c.conditions.find((x) => x.type === 'Ready')).toMatchObject({ status: 'True', lastTransitionTime: '2026-01-01T00:02:00.000Z' });
  });
});

// --- schemas ---------------------------------------------------------------------------------

type Model = { getAttributeTypeMap(): { baseName: string; type: string }[] };
let k8s: Record<string, unknown> | undefined;
async function models(): Promise<Record<string, unknown>> {
  return (k8s ??= (await import('@kubernetes/client-node')) as unknown as Record<string, unknown>);
}

/** Checks `value` against the generated client model `type`: unknown fields and wrong shapes. */
function checkModel(m: Record<string, unknown>, value: unknown, type: string, at: string, errors: string[]): void {
  if (value === undefined || value === null) return;
  const arr = /^Array<(.+)>$/.exec(type);
  if (arr) {
    if (!Array.isArray(value)) return void errors.push(`${at}: expected a list`);
    value.forEach((x, i) => checkModel(m, x, arr[1]!, `${at}[${i}]`, errors));
    return;
  }
  const dict = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (dict) {
    if (typeof value !== 'object' || Array.isArray(value)) return void errors.push(`${at}: expected a map`);
    for (const [k, x] of Object.entries(value)) checkModel(m, x, dict[1]!, `${at}.${k}`, errors);
    return;
  }
  if (type === 'string' || type === 'Date') return void (typeof value !== 'string' && errors.push(`${at}: expected a string`));
  if (type === 'number') return void (typeof value !== 'number' && errors.push(`${at}: expected a number`));
  if (type === 'boolean') return void (typeof value !== 'boolean' && errors.push(`${at}: expected a boolean`));
  if (type === 'IntOrString')
    return void (typeof value !== 'string' && typeof value !== 'number' && errors.push(`${at}: expected an int or string`));
  const model = m[type] as Model | undefined;
  if (!model?.getAttributeTypeMap) return; // any / object
  if (typeof value !== 'object' || Array.isArray(value)) return void errors.push(`${at}: expected an object (${type})`);
  const fields = new Map(model.getAttributeTypeMap().map((f) => [f.baseName, f.type]));
  for (const [k, x] of Object.entries(value as Record<string, unknown>)) {
    const t = fields.get(k);
    if (!t) errors.push(`${at}.${k}: unknown field of ${type}`);
    else checkModel(m, x, t, `${at}.${k}`, errors);
  }
}

const modelOf: Record<string, string> = {
  'v1/Namespace': 'V1Namespace',
  'v1/ServiceAccount': 'V1ServiceAccount',
  'v1/Service': 'V1Service',
  'v1/PersistentVolumeClaim': 'V1PersistentVolumeClaim',
  'v1/ConfigMap': 'V1ConfigMap',
  'apps/v1/Deployment': 'V1Deployment',
  'apps/v1/DaemonSet': 'V1DaemonSet',
  'rbac.authorization.k8s.io/v1/ClusterRole': 'V1ClusterRole',
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': 'V1ClusterRoleBinding',
  'rbac.authorization.k8s.io/v1/Role': 'V1Role',
  'rbac.authorization.k8s.io/v1/RoleBinding': 'V1RoleBinding',
  'apiextensions.k8s.io/v1/CustomResourceDefinition': 'V1CustomResourceDefinition',
};

// Flux and Argo CD objects: the fields their reference documentation defines.
const str = { type: 'string', minLength: 1 };
const meta = { type: 'object', required: ['name'], properties: { name: str, namespace: str } };
const otherSchemas: Record<string, object> = {
  'source.toolkit.fluxcd.io/v1/GitRepository': {
    type: 'object',
    required: ['metadata', 'spec'],
    properties: {
      metadata: meta,
      spec: {
        type: 'object',
        additionalProperties: false,
        required: ['interval', 'url'],
        properties: {
          interval: { type: 'string', pattern: '^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$' },
          url: { type: 'string', pattern: '^(http|https|ssh)://.*$' },
          ref: { type: 'object', additionalProperties: false, properties: { branch: str, tag: str, semver: str, name: str, commit: str } },
          secretRef: { type: 'object' },
          timeout: str,
          ignore: { type: 'string' },
          suspend: { type: 'boolean' },
        },
      },
    },
  },
  'kustomize.toolkit.fluxcd.io/v1/Kustomization': {
    type: 'object',
    required: ['metadata', 'spec'],
    properties: {
      metadata: meta,
      spec: {
        type: 'object',
        additionalProperties: false,
        required: ['interval', 'prune', 'sourceRef'],
        properties: {
          interval: str,
          retryInterval: str,
          timeout: str,
          path: str,
          prune: { type: 'boolean' },
          wait: { type: 'boolean' },
          force: { type: 'boolean' },
          targetNamespace: str,
          dependsOn: { type: 'array' },
          healthChecks: { type: 'array' },
          sourceRef: {
            type: 'object',
            additionalProperties: false,
            required: ['kind', 'name'],
            properties: { kind: { enum: ['GitRepository', 'OCIRepository', 'Bucket'] }, name: str, namespace: str },
          },
        },
      },
    },
  },
  'argoproj.io/v1alpha1/ConfigManagementPlugin': {
    type: 'object',
    required: ['metadata', 'spec'],
    properties: {
      metadata: meta,
      spec: {
        type: 'object',
        additionalProperties: false,
        required: ['generate'],
        properties: {
          version: str,
          init: { $ref: '#/$defs/command' },
          generate: { $ref: '#/$defs/command' },
          discover: {
            type: 'object',
            additionalProperties: false,
            properties: { fileName: str, find: { type: 'object', properties: { glob: str, command: { type: 'array' } } } },
          },
          parameters: { type: 'object' },
          preserveFileMode: { type: 'boolean' },
          provideGitCreds: { type: 'boolean' },
        },
      },
    },
    $defs: {
      command: {
        type: 'object',
        additionalProperties: false,
        required: ['command'],
        properties: {
          command: { type: 'array', minItems: 1, items: { type: 'string' } },
          args: { type: 'array', items: { type: 'string' } },
        },
      },
    },
  },
  'kustomize.config.k8s.io/v1beta1/Kustomization': {
    type: 'object',
    required: ['resources'],
    properties: { resources: { type: 'array', items: str } },
  },
};

async function manifests(): Promise<{ file: string; doc: Record<string, unknown> }[]> {
  const out: { file: string; doc: Record<string, unknown> }[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await fs.readdir(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (/\.ya?ml$/.test(e.name) && !p.includes('/testdata/') && !e.name.endsWith('_test.yaml')) {
        for (const d of parseAllDocuments(await fs.readFile(p, 'utf8'))) {
          expect(d.errors, p).toEqual([]);
          out.push({ file: path.relative(projectRoot, p), doc: d.toJS() as Record<string, unknown> });
        }
      }
    }
  };
  await walk(deploy);
  return out;
}

describe('deploy/ manifests', () => {
  it('validate against their schemas', async () => {
    const m = await models();
    const ajv = new Ajv({ allErrors: true, strict: false });
    const crd = parse(readFileSync(path.join(deploy, 'crd/weir.dev_policyrollouts.yaml'), 'utf8')) as {
      spec: { versions: { schema: { openAPIV3Schema: object } }[] };
    };
    const rolloutSchema = ajv.compile(crd.spec.versions[0]!.schema.openAPIV3Schema);
    const all = await manifests();
    expect(all.length).toBeGreaterThan(15);
    for (const { file, doc } of all) {
      const gv = `${String(doc['apiVersion'])}/${String(doc['kind'])}`;
      const errors: string[] = [];
      if (modelOf[gv]) checkModel(m, doc, modelOf[gv], `${file} ${gv}`, errors);
      else if (gv === 'weir.dev/v1alpha1/PolicyRollout') {
        if (!rolloutSchema(doc)) errors.push(`${file}: ${ajv.errorsText(rolloutSchema.errors)}`);
      } else if (otherSchemas[gv]) {
        const v = ajv.compile(otherSchemas[gv]);
        if (!v(doc)) errors.push(`${file} ${gv}: ${ajv.errorsText(v.errors)}`);
      } else if (customResourceValidators().has(gv)) errors.push(...kubeErrors(doc).map((e) => `${file}: ${e}`));
      else errors.push(`${file}: no schema for ${gv}`);
      expect(errors).toEqual([]);
    }
  });

  it('catches a misspelled field (the model check can fail)', async () => {
    const errors: string[] = [];
    checkModel(
      await models(),
      { apiVersion: 'apps/v1', kind: 'DaemonSet', spec: { template: { spec: { containers: [{ name: 'a', securityContex: {} }] } } } },
      'V1DaemonSet',
      'x',
      errors,
    );
    expect(errors).toEqual(['x.spec.template.spec.containers[0].securityContex: unknown field of V1Container']);
  });

  it('the agent runs with BPF, NET_ADMIN, PERFMON and SYS_RESOURCE, not privileged', async () => {
    const ds = (await manifests()).find((x) => x.doc['kind'] === 'DaemonSet')!.doc as {
      spec: {
        template: { spec: { containers: { securityContext: { privileged: boolean; capabilities: { add: string[]; drop: string[] } } }[] } };
      };
    };
    const sc = ds.spec.template.spec.containers[0]!.securityContext;
    expect(sc.privileged).toBe(false);
    expect(sc.capabilities.add.sort()).toEqual(['BPF', 'NET_ADMIN', 'PERFMON', 'SYS_RESOURCE']);
    expect(sc.capabilities.drop).toEqual(['ALL']);
  });

  it('every PolicyRollout test case and every status the controller writes fits the CRD schema', () => {
    const ajv = new Ajv({ allErrors: true, strict: false });
    const crd = parse(readFileSync(path.join(deploy, 'crd/weir.dev_policyrollouts.yaml'), 'utf8')) as {
      spec: { versions: { schema: { openAPIV3Schema: object } }[] };
    };
    const v = ajv.compile(crd.spec.versions[0]!.schema.openAPIV3Schema);
    const samples = readdirSync(path.join(healthDir, 'testdata'));
    expect(samples.length).toBe(7);
    for (const f of samples) {
      const doc = parse(readFileSync(path.join(healthDir, 'testdata', f), 'utf8')) as unknown;
      expect(v(doc), `${f}: ${ajv.errorsText(v.errors)}`).toBe(true);
    }
    for (const phase of ['Idle', 'Compiling', 'Canary', 'Rolling', 'Complete', 'RolledBack', 'CompileFailed', 'Degraded'] as const) {
      const status = rolloutStatus({ phase, current: null, lastGood: null, lastError: null, nodes: [] }, 1);
      expect(
        v({ apiVersion: 'weir.dev/v1alpha1', kind: 'PolicyRollout', metadata: { name: 'p' }, spec: {}, status }),
        ajv.errorsText(v.errors),
      ).toBe(true);
    }
  });

  it('the Argo CD plugin runs weir render, and the argocd-cm patch carries health.lua verbatim', () => {
    const plugin = parse(readFileSync(path.join(deploy, 'argocd/plugin.yaml'), 'utf8')) as { spec: { generate: { args: string[] } } };
    expect(plugin.spec.generate.args.join(' ')).toMatch(/^weir render /);
    const cm = parse(readFileSync(path.join(deploy, 'argocd/argocd-cm-patch.yaml'), 'utf8')) as { data: Record<string, string> };
    expect(cm.data['resource.customizations.health.weir.dev_PolicyRollout']).toBe(readFileSync(path.join(healthDir, 'health.lua'), 'utf8'));
  });

  it('weir render prints only manifests, and its PolicyRollout fits the CRD', async () => {
    const { renderCommand } = await import('../../cli/render.js');
    const dir = await fs.mkdtemp(path.join((await import('node:os')).tmpdir(), 'weir-render-'));
    try {
      await fs.writeFile(
        path.join(dir, 'rule.yaml'),
        'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: rule1, namespace: default}\nspec:\n  endpointSelector: {matchLabels: {class: deathstar}}\n',
      );
      let out = '';
      let err = '';
      const io = { stdout: (s: string) => (out += s), stderr: (s: string) => (err += s), cwd: dir, env: {}, isTTY: false };
      expect(
        await renderCommand.run(['--revision', 'abc123', '--repository', 'https://git.example.com/p.git', '--name', 'My_Policies'], io),
      ).toBe(0);
      expect(err).toBe('');
      const docs = parseAllDocuments(out).map((d) => d.toJS() as Record<string, unknown>);
      expect(docs.map((d) => d['kind'])).toEqual(['CiliumNetworkPolicy', 'PolicyRollout']);
      const ajv = new Ajv({ allErrors: true, strict: false });
      const crd = parse(readFileSync(path.join(deploy, 'crd/weir.dev_policyrollouts.yaml'), 'utf8')) as {
        spec: { versions: { schema: { openAPIV3Schema: object } }[] };
      };
      const v = ajv.compile(crd.spec.versions[0]!.schema.openAPIV3Schema);
      expect(v(docs[1]), ajv.errorsText(v.errors)).toBe(true);
      expect(docs[1]).toMatchObject({
        metadata: { name: 'my-policies' },
        spec: { source: { revision: 'abc123', repository: 'https://git.example.com/p.git' } },
      });
      await fs.writeFile(path.join(dir, 'bad.yaml'), 'kind: [\n');
      out = '';
      expect(await renderCommand.run([], io)).toBe(1);
      expect(out).toBe('');
      expect(err).toMatch(/bad\.yaml:\d+:\d+: error: .*\[load\/yaml-syntax\]/);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
