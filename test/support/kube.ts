// Kubernetes manifests checked as kubeconform does with -strict: the vendored standalone-strict
// JSON schemas of the built-in kinds (test/schemas/kubernetes), and for custom resources the
// openAPIV3Schema of their CRD made strict (no field a schema does not list, unless it preserves
// unknown fields), with ObjectMeta checked strictly too. Plus a reader of kustomization.yaml that
// builds the subset of kustomize deploy/ uses, so every folder's build is checked without kubectl.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import Ajv, { type ValidateFunction } from 'ajv';
import { parse, parseAllDocuments } from 'yaml';

const root = path.resolve(import.meta.dirname, '../..');
const schemaDir = path.join(root, 'test/schemas/kubernetes');
type Schema = Record<string, unknown>;

// Formats are checked by the API server, not by these schemas' users (kubeconform does not either).
const ajv = new Ajv.default({ allErrors: true, strict: false, validateFormats: false });

/** kubeconform's strict mode for a CRD schema: closed objects wherever the schema lists properties. */
export function strictify(s: unknown): unknown {
  if (Array.isArray(s)) return s.map(strictify);
  if (s === null || typeof s !== 'object') return s;
  const o: Schema = {};
  for (const [k, v] of Object.entries(s as Schema))
    o[k] =
      k === 'properties' || k === 'patternProperties'
        ? Object.fromEntries(Object.entries(v as Schema).map(([p, x]) => [p, strictify(x)]))
        : strictify(v);
  if (o['properties'] !== undefined && o['additionalProperties'] === undefined && o['x-kubernetes-preserve-unknown-fields'] !== true)
    o['additionalProperties'] = false;
  return o;
}

/** The built-in kinds' schema file names, as openapi2jsonschema names them. */
function builtinFile(apiVersion: string, kind: string): string {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  return `${kind.toLowerCase()}${group ? `-${group!.split('.')[0]}` : ''}-${version}.json`;
}

let objectMeta: unknown;
function metaSchema(): unknown {
  objectMeta ??= (JSON.parse(readFileSync(path.join(schemaDir, 'namespace-v1.json'), 'utf8')) as { properties: { metadata: unknown } })
    .properties.metadata;
  return objectMeta;
}

const crdFiles = () => [
  ...readdirSync(path.join(schemaDir, 'crds')).map((f) => path.join(schemaDir, 'crds', f)),
  path.join(root, 'deploy/crd/weir.dev_policyrollouts.yaml'),
];

let crdSchemas: Map<string, ValidateFunction> | undefined;
/** `group/version/Kind` → validator, for every version of every vendored CRD and weir's own. */
export function customResourceValidators(): Map<string, ValidateFunction> {
  if (crdSchemas) return crdSchemas;
  crdSchemas = new Map();
  for (const f of crdFiles()) {
    for (const d of parseAllDocuments(readFileSync(f, 'utf8'))) {
      const crd = d.toJS() as {
        kind?: string;
        spec?: { group: string; names: { kind: string }; versions: { name: string; schema?: { openAPIV3Schema: Schema } }[] };
      } | null;
      if (crd?.kind !== 'CustomResourceDefinition' || !crd.spec) continue;
      for (const v of crd.spec.versions) {
        if (!v.schema) continue;
        const apiVersion = `${crd.spec.group}/${v.name}`;
        const schema = strictify(v.schema.openAPIV3Schema) as Schema;
        const props = {
          ...(schema['properties'] as Schema),
          apiVersion: { enum: [apiVersion] },
          kind: { enum: [crd.spec.names.kind] },
          metadata: metaSchema(),
        };
        crdSchemas.set(
          `${apiVersion}/${crd.spec.names.kind}`,
          ajv.compile({
            ...schema,
            properties: props,
            required: [...new Set([...((schema['required'] as string[]) ?? []), 'apiVersion', 'kind', 'metadata'])],
          }),
        );
      }
    }
  }
  return crdSchemas;
}

const builtins = new Map<string, ValidateFunction | null>();
/** Errors of one Kubernetes object against its schema; an object of a kind with no schema is an error too. */
export function kubeErrors(doc: Record<string, unknown>): string[] {
  const apiVersion = String(doc['apiVersion'] ?? '');
  const kind = String(doc['kind'] ?? '');
  const gvk = `${apiVersion}/${kind}`;
  let v = customResourceValidators().get(gvk);
  if (!v) {
    const file = builtinFile(apiVersion, kind);
    if (!builtins.has(file)) {
      let compiled: ValidateFunction | null = null;
      try {
        compiled = ajv.compile(JSON.parse(readFileSync(path.join(schemaDir, file), 'utf8')) as object);
      } catch {
        compiled = null;
      }
      builtins.set(file, compiled);
    }
    v = builtins.get(file) ?? undefined;
  }
  if (!v) return [`${gvk}: no schema vendored under test/schemas/kubernetes`];
  if (v(doc)) return [];
  return (v.errors ?? []).map(
    (e) =>
      `${gvk} ${(doc['metadata'] as { name?: string } | undefined)?.name ?? ''}: ${e.instancePath || '/'} ${e.message ?? ''}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`,
  );
}

// --- kustomize ---------------------------------------------------------------------------------

let kustomizationSchema: ValidateFunction | undefined;
export interface Kustomization {
  resources?: string[];
  namespace?: string;
  configMapGenerator?: {
    name: string;
    namespace?: string;
    files?: string[];
    literals?: string[];
    options?: { disableNameSuffixHash?: boolean; labels?: Record<string, string>; annotations?: Record<string, string> };
  }[];
}

/** kustomization.yaml of a folder, checked against SchemaStore's schema and limited to what build() understands. */
export function readKustomization(dir: string): { k: Kustomization; errors: string[] } {
  const file = path.join(dir, 'kustomization.yaml');
  const k = parse(readFileSync(file, 'utf8')) as Kustomization & Record<string, unknown>;
  kustomizationSchema ??= ajv.compile(JSON.parse(readFileSync(path.join(schemaDir, 'kustomization.json'), 'utf8')) as object);
  const errors = kustomizationSchema(k)
    ? []
    : (kustomizationSchema.errors ?? []).map((e) => `${file}: ${e.instancePath} ${e.message ?? ''}`);
  const known = new Set(['apiVersion', 'kind', 'resources', 'namespace', 'configMapGenerator']);
  for (const key of Object.keys(k))
    if (!known.has(key)) errors.push(`${file}: ${key} is not modelled by this test's builder; extend test/support/kube.ts`);
  if (k['apiVersion'] !== 'kustomize.config.k8s.io/v1beta1' || k['kind'] !== 'Kustomization')
    errors.push(`${file}: not a kustomize Kustomization (apiVersion/kind)`);
  return { k, errors };
}

/** `kubectl kustomize DIR` for the subset above: resources (files or folders), namespace, ConfigMaps from files. */
export function build(dir: string, seen: string[] = []): { objects: Record<string, unknown>[]; files: string[]; errors: string[] } {
  if (seen.includes(dir)) return { objects: [], files: [], errors: [`${dir}: kustomization cycle`] };
  const { k, errors } = readKustomization(dir);
  const objects: Record<string, unknown>[] = [];
  const files = [path.join(dir, 'kustomization.yaml')];
  for (const r of k.resources ?? []) {
    const p = path.resolve(dir, r);
    if (!p.startsWith(dir + path.sep)) errors.push(`${dir}: resource ${r} is outside the kustomization root`);
    let isDir = false;
    try {
      isDir = statSync(p).isDirectory();
    } catch {
      errors.push(`${dir}: resource ${r} does not exist`);
      continue;
    }
    if (isDir) {
      const sub = build(p, [...seen, dir]);
      objects.push(...sub.objects);
      files.push(...sub.files);
      errors.push(...sub.errors);
    } else {
      files.push(p);
      for (const d of parseAllDocuments(readFileSync(p, 'utf8'))) {
        if (d.errors.length) errors.push(`${p}: ${d.errors[0]!.message}`);
        const o = d.toJS() as Record<string, unknown> | null;
        if (o) objects.push(o);
      }
    }
  }
  for (const g of k.configMapGenerator ?? []) {
    if (!g.options?.disableNameSuffixHash)
      errors.push(`${dir}: configMapGenerator ${g.name} without disableNameSuffixHash (the name must be the one the pods mount)`);
    const data: Record<string, string> = {};
    for (const f of g.files ?? []) {
      const [key, rel] = f.includes('=') ? f.split('=', 2) : [path.basename(f), f];
      files.push(path.resolve(dir, rel!));
      data[key!] = readFileSync(path.resolve(dir, rel!), 'utf8');
    }
    for (const l of g.literals ?? []) data[l.slice(0, l.indexOf('='))] = l.slice(l.indexOf('=') + 1);
    objects.push({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: g.name,
        ...(g.namespace ? { namespace: g.namespace } : {}),
        ...(g.options?.labels ? { labels: g.options.labels } : {}),
        ...(g.options?.annotations ? { annotations: g.options.annotations } : {}),
      },
      data,
    });
  }
  if (k.namespace)
    for (const o of objects)
      if (o['kind'] !== 'Namespace' && o['kind'] !== 'CustomResourceDefinition' && !String(o['kind']).startsWith('Cluster'))
        (o['metadata'] as Record<string, unknown>)['namespace'] = k.namespace;
  return { objects, files, errors };
}
