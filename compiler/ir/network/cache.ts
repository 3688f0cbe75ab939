// weir's compile cache: what a compile computed that the next one against the same inventory can
// take as it is (the controller's incremental rebuilds, the plan's second revision). Each entry
// names what it depends on and is used only while that stays the same object.
import type { Diagnostic } from '../../diagnostics.js';
import { allocateIdentities, ipBlockKey, type IdentityAllocation, type IpBlock } from '../../identity/allocate.js';
import type { Inventory } from '../../inventory/model.js';
import { formatPrefix, type Prefix } from '../../model/cidr.js';
import type { DocumentRules } from './parse.js';
import { podTables, type PodTables, type Selections } from './selectorcache.js';
import type { IREndpoint, IRRule, IpcacheEntry } from './types.js';

/** A document's parse, and where the parsed document was: a value shared by another place is parsed again. */
export interface DocParse extends DocumentRules {
  inv: Inventory;
  file: string;
  docIndex: number;
  listIndex: number | undefined;
  commit: string | undefined;
}

/** Identity allocation depends only on the inventory and the CIDR/FQDN sets; reuse it while they stay. */
export class CompileCache {
  inventory?: Inventory;
  key?: string;
  alloc?: IdentityAllocation;
  /**
   * Parse results per document (cookies local to the document), keyed by its parsed value: copies of
   * a document read at another commit (same blob, `weir plan`'s two revisions) share the value
   * object and so the parse; the commit they cite is patched in when they are handed out.
   */
  readonly docs = new WeakMap<object, DocParse>();
  /** Resolved rules per parsed rule, valid for one identity allocation (cookie filled in per build). */
  readonly resolved = new WeakMap<object, { alloc: IdentityAllocation; rules: IRRule[]; diagnostics: Diagnostic[] }>();
  /** Selector → identities and subject selector → endpoints, valid for one identity allocation. */
  selections?: Selections;
  /** The ipcache entries of one identity allocation (they depend on nothing else). */
  ipcache?: { alloc: IdentityAllocation; entries: IpcacheEntry[] };
  /** Per-pod tables of one inventory and allocation. */
  pods?: { alloc: IdentityAllocation; inv: Inventory; tables: PodTables; endpoints?: IREndpoint[] };
}

/** The identity allocation for these CIDRs, FQDN selectors and ipBlocks: the cached one while inventory and sets stay. */
export function identitiesFor(
  cache: CompileCache | undefined,
  inv: Inventory,
  prefixes: readonly Prefix[],
  fqdns: readonly string[],
  ipBlocks: readonly IpBlock[] = [],
): IdentityAllocation {
  const key = JSON.stringify([prefixes.map(formatPrefix).sort(), [...fqdns].sort(), [...new Set(ipBlocks.map(ipBlockKey))].sort()]);
  const alloc =
    cache && cache.inventory === inv && cache.key === key && cache.alloc ? cache.alloc : allocateIdentities(inv, prefixes, fqdns, ipBlocks);
  if (cache) Object.assign(cache, { inventory: inv, key, alloc });
  return alloc;
}

/**
 * Per-pod tables depend only on the inventory and the allocation: a second compile against
 * them (the plan's head, an incremental build) takes them as they are.
 */
export function tablesFor(cache: CompileCache | undefined, inv: Inventory, alloc: IdentityAllocation): PodTables {
  const tables = cache?.pods?.alloc === alloc && cache.pods.inv === inv ? cache.pods.tables : podTables(inv, alloc);
  if (cache && cache.pods?.tables !== tables) cache.pods = { alloc, inv, tables };
  return tables;
}

/** The selector cache's memo for this allocation (fresh maps without a cache). */
export function selectionsFor(cache: CompileCache | undefined, alloc: IdentityAllocation): Selections {
  if (!cache?.selections || cache.selections.alloc !== alloc) {
    const s: Selections = { alloc, sel: new Map(), subj: new Map(), idx: new WeakMap() };
    if (cache) cache.selections = s;
    return s;
  }
  return cache.selections;
}
