// Turn parsed YAML into typed, located policy documents with provenance.
import { diagnostic, type Diagnostic, type Span } from '../diagnostics.js';
import { itemKindOfList, kindInfo, looksLikeFalcoRules, policyGroups, similarKind, type DocumentFamily } from './kinds.js';
import type { IgnoredInput } from './discover.js';
import type { NodePath, ParsedYaml } from './yaml.js';
import { isObj } from '../model/value.js';

/** Where a document came from: enough to point a reviewer at the exact line of the exact commit. */
export interface Provenance {
  /** Path relative to the repository (or load root), with forward slashes. */
  file: string;
  line: number;
  column: number;
  /** Commit the file was read from; undefined for a work tree or directory. */
  commit?: string;
  /** Index of the YAML document in its file (0-based), and of the item inside a List. */
  docIndex: number;
  listIndex?: number;
}

export interface PolicyDocument {
  kind: string;
  apiVersion: string;
  family: DocumentFamily;
  name: string;
  namespace?: string;
  /** The plain value of the document (for a List item, of that item). */
  value: Record<string, unknown>;
  provenance: Provenance;
  /** Span of the whole document. */
  span: Span;
  /** Span of a node given by a path relative to this document's root. */
  locate(path: NodePath, opts?: { key?: boolean }): Span;
}

/** A Falco rules file: the whole YAML sequence is one document. */
export interface FalcoRulesDocument extends PolicyDocument {
  kind: 'FalcoRules';
  family: 'falco';
  items: unknown[];
}

export function isFalcoRules(d: PolicyDocument): d is FalcoRulesDocument {
  return d.kind === 'FalcoRules';
}

export interface Classified {
  documents: PolicyDocument[];
  diagnostics: Diagnostic[];
  /** Documents that are neither policies nor inventory (RBAC, other tools' objects, non-Kubernetes YAML): counted, not reported. */
  ignored: IgnoredInput[];
}

/**
 * Classifies a parsed YAML or JSON document; unpacks Lists, including the API's typed lists
 * (`PodList`, `NamespaceList`, ...) whose items carry no kind of their own.
 */
export function classify(parsed: ParsedYaml, commit: string | undefined): Classified {
  const diagnostics: Diagnostic[] = [];
  const documents: PolicyDocument[] = [];
  const ignored: IgnoredInput[] = [];
  const v = parsed.value;
  const baseProv = (path: NodePath, listIndex?: number): Provenance => {
    const s = parsed.locate(path);
    return {
      file: parsed.file,
      line: s.line,
      column: s.column,
      commit,
      docIndex: parsed.index,
      ...(listIndex === undefined ? {} : { listIndex }),
    };
  };
  if (looksLikeFalcoRules(v)) {
    const doc: FalcoRulesDocument = {
      kind: 'FalcoRules',
      apiVersion: 'falco',
      family: 'falco',
      name: parsed.file,
      value: { items: v },
      items: v as unknown[],
      provenance: baseProv([]),
      span: parsed.span,
      locate: (path, opts) => parsed.locate(path[0] === 'items' ? path.slice(1) : path, opts),
    };
    documents.push(doc);
    return { documents, diagnostics, ignored };
  }
  if (!isObj(v)) {
    diagnostics.push(
      diagnostic('load/not-an-object', 'error', 'document is not a YAML mapping with apiVersion and kind', parsed.span, { commit }),
    );
    return { documents, diagnostics, ignored };
  }
  const obj = v;
  const kind = obj['kind'];
  if (typeof kind === 'string' && Array.isArray(obj['items']) && itemKindOfList(kind) !== undefined) {
    // A typed list gives its items their kind and apiVersion when they do not write them.
    const itemKind = itemKindOfList(kind) || undefined;
    const listApi = typeof obj['apiVersion'] === 'string' ? obj['apiVersion'] : undefined;
    (obj['items'] as unknown[]).forEach((item, i) => {
      const r = classifyObject(
        item,
        (p, o) => parsed.locate(['items', i, ...p], o),
        baseProv(['items', i], i),
        parsed.span,
        commit,
        itemKind ? { kind: itemKind, ...(listApi ? { apiVersion: listApi } : {}) } : undefined,
      );
      documents.push(...r.documents);
      diagnostics.push(...r.diagnostics);
      ignored.push(...r.ignored);
    });
    return { documents, diagnostics, ignored };
  }
  // A mapping with no apiVersion, kind, metadata or spec is not a Kubernetes object at all (a
  // GitHub Action, a Helm values file, a kustomization written without kind): someone else's file.
  if (!('apiVersion' in obj) && !('kind' in obj) && !('metadata' in obj) && !('spec' in obj)) {
    ignored.push({ file: parsed.file, line: parsed.span.line, what: 'not a Kubernetes object' });
    return { documents, diagnostics, ignored };
  }
  return classifyObject(obj, parsed.locate, baseProv([]), parsed.span, commit);
}

function classifyObject(
  v: unknown,
  locate: PolicyDocument['locate'],
  provenance: Provenance,
  docSpan: Span,
  commit: string | undefined,
  fromList?: { kind: string; apiVersion?: string },
): Classified {
  const diagnostics: Diagnostic[] = [];
  const ignored: IgnoredInput[] = [];
  const at = (p: NodePath, key = false) => locate(p, { key });
  if (!isObj(v)) {
    diagnostics.push(diagnostic('load/not-an-object', 'error', 'list item is not a mapping with apiVersion and kind', at([]), { commit }));
    return { documents: [], diagnostics, ignored };
  }
  const obj = v;
  const kind = obj['kind'] ?? fromList?.kind;
  if (typeof kind !== 'string' || kind === '') {
    diagnostics.push(
      diagnostic(
        'load/missing-kind',
        'error',
        'document has no `kind`; add e.g. `kind: CiliumNetworkPolicy`',
        kind === undefined ? { ...docSpan, endLine: docSpan.line, endColumn: docSpan.column } : at(['kind']),
        { commit },
      ),
    );
    return { documents: [], diagnostics, ignored };
  }
  let apiVersion: unknown = obj['apiVersion'] ?? (obj['kind'] === undefined ? fromList?.apiVersion : undefined);
  const info = kindInfo(kind);
  // Known objects that carry no policy (weir's own reports among them) are left out as they are.
  if (info?.family === 'ignored') {
    ignored.push({
      file: provenance.file,
      line: provenance.line,
      what: `${kind}${typeof apiVersion === 'string' ? ` (${apiVersion})` : ''}`,
    });
    return { documents: [], diagnostics, ignored };
  }
  if (apiVersion === undefined) {
    const wrongCase = Object.keys(obj).find((k) => k !== 'apiVersion' && k.toLowerCase() === 'apiversion');
    if (wrongCase) {
      diagnostics.push(
        diagnostic(
          'load/apiversion-case',
          'error',
          `field \`${wrongCase}\` must be spelled \`apiVersion\`; Kubernetes field names are case-sensitive and the API server rejects this document`,
          at([wrongCase], true),
          {
            commit,
            fix: { description: 'rename the field to apiVersion', replacement: 'apiVersion' },
          },
        ),
      );
      apiVersion = obj[wrongCase];
    } else {
      diagnostics.push(diagnostic('load/missing-apiversion', 'error', `${kind} has no \`apiVersion\``, at(['kind']), { commit }));
    }
  }
  const meta = (obj['metadata'] ?? {}) as Record<string, unknown>;
  const name = typeof meta['name'] === 'string' ? meta['name'] : '';
  const namespace = typeof meta['namespace'] === 'string' ? meta['namespace'] : undefined;
  if (!info) {
    // Other tools' objects (RBAC, Argo CD, Flux, CRDs, ...) are expected beside policies: counted,
    // not warned about. A kind that nearly names a policy, or sits in a policy API group, is a mistake.
    const group = typeof apiVersion === 'string' && apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';
    const near = similarKind(kind);
    if (near || policyGroups.has(group))
      diagnostics.push(
        diagnostic(
          'load/unknown-kind',
          'warning',
          `unknown kind \`${kind}\` (apiVersion ${String(apiVersion)}): not a policy weir understands, ignored${near ? `; did you mean \`${near}\`?` : ''}`,
          at(['kind']),
          { commit },
        ),
      );
    else
      ignored.push({
        file: provenance.file,
        line: provenance.line,
        what: `${kind}${typeof apiVersion === 'string' ? ` (${apiVersion})` : ''}`,
      });
    return { documents: [], diagnostics, ignored };
  }
  if (typeof apiVersion === 'string' && !info.apiVersions.includes(apiVersion)) {
    diagnostics.push(
      diagnostic(
        'load/unknown-apiversion',
        info.family === 'network' || info.family === 'runtime' ? 'error' : 'warning',
        `${kind} is served as ${info.apiVersions.join(' or ')}, not \`${apiVersion}\``,
        at(['apiVersion']),
        { commit },
      ),
    );
  }
  const doc: PolicyDocument = {
    kind,
    apiVersion: typeof apiVersion === 'string' ? apiVersion : '',
    family: info.family,
    name,
    ...(namespace === undefined ? {} : { namespace }),
    // A typed list's item is given the kind and apiVersion it was listed under, as the API server would.
    value: obj['kind'] === undefined ? { ...(typeof apiVersion === 'string' ? { apiVersion } : {}), kind, ...obj } : obj,
    provenance,
    span: locate([]),
    locate,
  };
  return { documents: [doc], diagnostics, ignored };
}
