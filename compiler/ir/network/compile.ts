// Compiles CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy and NetworkPolicy documents plus
// an inventory into the network IR, in the passes of Cilium's pkg/policy: the repository parses
// every rule (collecting the CIDRs and FQDN selectors that need identities), identities are
// allocated, the selector cache and rule resolution turn selectors into identity sets and named
// ports into numbers, then enforcement, the ipcache and the FQDN selectors complete the IR.
import { sortDiagnostics, type Diagnostic } from '../../diagnostics.js';
import { ID_ANY, ipBlockKey } from '../../identity/allocate.js';
import type { Inventory } from '../../inventory/model.js';
import type { PolicyDocument } from '../../load/index.js';
import { hostPrefix, parseAddress } from '../../model/cidr.js';
import { LABEL_NAMESPACE } from '../../model/selector.js';
import { identitiesFor, selectionsFor, tablesFor, type CompileCache } from './cache.js';
import { endpointsOf } from './enforcement.js';
import { ipcacheOf } from './ipcache.js';
import { repository } from './repository.js';
import { fqdnSelectors, resolveRules } from './resolve.js';
import { SelectorCache } from './selectorcache.js';
import type { AllowLocalhost, IpBlockRef, NetworkIR } from './types.js';

export { CompileCache } from './cache.js';
export { fqdnRegex } from './selectorcache.js';

export interface CompileOptions {
  /** Commit the policies were read from (recorded in rule cookies). */
  commit?: string;
  /** Memo shared across compiles of the same inventory (incremental rebuilds). */
  cache?: CompileCache;
  /** Cilium's `--allow-localhost` (default `auto`: the host reaches the pods of its node). */
  allowLocalhost?: AllowLocalhost;
}

export interface CompileResult {
  ir: NetworkIR;
  diagnostics: Diagnostic[];
}

export function compileNetworkDocs(docs: readonly PolicyDocument[], inv: Inventory, opts: CompileOptions = {}): CompileResult {
  const cache = opts.cache;
  const repo = repository(docs, inv, opts.commit, cache);
  const { work, enforcers, origins, prefixes, fqdns, ipBlocks, diagnostics } = repo;

  // Identities: services without a selector are their backend addresses, which need CIDR identities.
  for (const s of inv.services)
    if (!s.selector)
      for (const ip of s.backendIPs) {
        const a = parseAddress(ip);
        if (a) prefixes.push(hostPrefix(a.family, a.addr));
      }
  const alloc = identitiesFor(cache, inv, prefixes, fqdns, ipBlocks);
  const tables = tablesFor(cache, inv, alloc);
  const selectors = new SelectorCache(tables, selectionsFor(cache, alloc));

  const rules = resolveRules(work, { inv, alloc, tables, selectors, cache, commit: opts.commit, diagnostics });
  const endpoints = endpointsOf(inv, tables, selectors, enforcers, rules, cache);
  const ipcache = ipcacheOf(inv, alloc, tables, cache);

  const ir: NetworkIR = {
    identities: alloc.identities,
    endpoints,
    rules,
    ipcache,
    origins,
    fqdnSelectors: fqdnSelectors(alloc, work),
    nodes: inv.nodes.map((n) => n.name),
    ...(opts.commit ? { revision: opts.commit } : {}),
    ...(opts.allowLocalhost === 'policy' ? { localhostNeedsPolicy: true } : {}),
  };
  // Endpoints are in pod order: their index by key is the pod index, shared by every compile
  // against this inventory. Not enumerable: the IR's data stays what it was.
  Object.defineProperty(ir, 'endpointIndex', { value: tables.podIndex, enumerable: false });
  // The ipBlocks of each rule, so explain can say which address of a pod a block covered.
  const blocksByCookie = new Map<number, IpBlockRef[]>();
  for (const { pr, offset } of work) {
    const blocks = pr.peer.cidrs.filter((c) => c.pods).map((c) => ({ text: ipBlockKey(c), block: c }));
    if (blocks.length) blocksByCookie.set(pr.origin.cookie + offset, blocks);
  }
  Object.defineProperty(ir, 'ipBlocks', { value: blocksByCookie, enumerable: false });
  return { ir, diagnostics: sortDiagnostics(diagnostics) };
}

export { ID_ANY, LABEL_NAMESPACE };
