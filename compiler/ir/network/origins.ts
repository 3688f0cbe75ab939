// Rule origins, as Cilium's rule cookies: every rule of the IR names its policy, file and place, so a
// map value's cookie leads back to the line that wrote it. A cached parse is handed out again under
// another cookie offset and commit.
import type { Diagnostic } from '../../diagnostics.js';
import type { PolicyDocument } from '../../load/index.js';
import type { RuleOrigin } from './types.js';

/** A path below a document's root, as the loader locates it. */
export type Path = (string | number)[];

/** The origin of the rule at `path` of `d`, numbered `cookie`; its line and column are located on first read. */
export function ruleOrigin(d: PolicyDocument, path: Path, cookie: number, commit: string | undefined): RuleOrigin {
  const ns = d.kind === 'CiliumClusterwideNetworkPolicy' ? undefined : (d.namespace ?? 'default');
  return lazyOrigin(
    {
      cookie,
      policy: `${d.kind}/${ns ? ns + '/' : ''}${d.name}`,
      kind: d.kind,
      name: d.name,
      ...(ns ? { namespace: ns } : {}),
      file: d.provenance.file,
      ...(commit ? { commit } : {}),
      path: path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join(''),
    },
    { doc: d, path },
  );
}

/** Where a rule's place is found: its document and path, located on first read. */
interface LazySpan {
  doc: PolicyDocument;
  path: Path;
  span?: { line: number; column: number };
}

const originSpans = new WeakMap<RuleOrigin, LazySpan>();

/**
 * A rule origin whose line and column are located when first read: locating rebuilds the
 * positions of the document, and a compile names thousands of rules of which only a finding, an
 * explanation or a bundle's cookie table reads the place. Own enumerable getters, so the origin
 * serializes, clones and compares as the plain object it stands for (key order as before).
 */
function lazyOrigin(f: Omit<RuleOrigin, 'line' | 'column'>, lazy: LazySpan): RuleOrigin {
  const at = () => (lazy.span ??= lazy.doc.locate(lazy.path));
  const o: RuleOrigin = {
    cookie: f.cookie,
    policy: f.policy,
    kind: f.kind,
    name: f.name,
    ...(f.namespace !== undefined ? { namespace: f.namespace } : {}),
    file: f.file,
    get line() {
      return at().line;
    },
    get column() {
      return at().column;
    },
    ...(f.commit !== undefined ? { commit: f.commit } : {}),
    path: f.path,
  };
  originSpans.set(o, lazy);
  return o;
}

/** The same origin under another cookie and commit, sharing its (lazily located) place. */
export function originAt(o: RuleOrigin, cookie: number, commit: string | undefined): RuleOrigin {
  const lazy = originSpans.get(o);
  const f = {
    cookie,
    policy: o.policy,
    kind: o.kind,
    name: o.name,
    ...(o.namespace !== undefined ? { namespace: o.namespace } : {}),
    file: o.file,
    ...(commit ? { commit } : {}),
    path: o.path,
  };
  if (lazy) return lazyOrigin(f, lazy);
  const c: RuleOrigin = { ...o, cookie };
  if (commit) c.commit = commit;
  else delete c.commit;
  return c;
}

/** A diagnostic of a cached parse, citing the commit it is handed out for. */
export function withCommit(d: Diagnostic, commit: string | undefined): Diagnostic {
  const { commit: _old, ...rest } = d;
  void _old;
  return commit ? { ...rest, commit } : rest;
}
