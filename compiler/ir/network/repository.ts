// The policy repository, as Cilium's: every rule of every network document, numbered with
// deterministic cookies (file, document, list index order, whatever the load order). Documents
// parsed by an earlier compile (same value, same place) are taken from the cache.
import type { Diagnostic } from '../../diagnostics.js';
import type { Inventory } from '../../inventory/model.js';
import type { PolicyDocument } from '../../load/index.js';
import type { Prefix } from '../../model/cidr.js';
import type { CompileCache } from './cache.js';
import { originAt, withCommit } from './origins.js';
import { parseDocument, type CidrSpec, type Enforcer, type ParsedRule } from './parse.js';
import type { RuleOrigin } from './types.js';

/** A parsed rule of the build with the cookie offset of its document. */
export interface WorkItem {
  pr: ParsedRule;
  offset: number;
}

export interface Repository {
  work: WorkItem[];
  enforcers: Enforcer[];
  origins: RuleOrigin[];
  prefixes: Prefix[];
  fqdns: string[];
  ipBlocks: CidrSpec[];
  diagnostics: Diagnostic[];
}

export function repository(
  docs: readonly PolicyDocument[],
  inv: Inventory,
  commit: string | undefined,
  cache: CompileCache | undefined,
): Repository {
  const repo: Repository = { work: [], enforcers: [], origins: [], prefixes: [], fqdns: [], ipBlocks: [], diagnostics: [] };
  const network = docs.filter((d) => d.family === 'network').slice();
  network.sort(
    (a, b) =>
      (a.provenance.file < b.provenance.file ? -1 : a.provenance.file > b.provenance.file ? 1 : 0) ||
      a.provenance.docIndex - b.provenance.docIndex ||
      (a.provenance.listIndex ?? 0) - (b.provenance.listIndex ?? 0),
  );
  for (const d of network) {
    let entry = cache?.docs.get(d.value);
    const docCommit = d.provenance.commit ?? commit;
    if (
      !entry ||
      entry.inv !== inv ||
      entry.file !== d.provenance.file ||
      entry.docIndex !== d.provenance.docIndex ||
      entry.listIndex !== d.provenance.listIndex
    ) {
      entry = {
        inv,
        file: d.provenance.file,
        docIndex: d.provenance.docIndex,
        listIndex: d.provenance.listIndex,
        commit: docCommit,
        ...parseDocument(d, inv, commit),
      };
      cache?.docs.set(d.value, entry);
    }
    const offset = repo.origins.length;
    const recommit = entry.commit !== docCommit;
    for (const o of entry.origins) repo.origins.push(originAt(o, o.cookie + offset, recommit ? docCommit : o.commit));
    for (const pr of entry.parsed) repo.work.push({ pr, offset });
    repo.enforcers.push(...entry.enforcers);
    repo.prefixes.push(...entry.prefixes);
    repo.fqdns.push(...entry.fqdns);
    repo.ipBlocks.push(...entry.ipBlocks);
    for (const x of entry.diagnostics) repo.diagnostics.push(recommit ? withCommit(x, docCommit) : x);
  }
  return repo;
}
