// The ipcache, as Cilium's: every pod address to its identity, node addresses to remote-node (host
// on the node itself), and the policies' CIDRs to their CIDR identities, in prefix order.
import { reservedIdentities, type IdentityAllocation } from '../../identity/allocate.js';
import type { Inventory } from '../../inventory/model.js';
import { comparePrefix, formatPrefix, hostPrefix, ipv4ToInt, parseAddress, type Prefix } from '../../model/cidr.js';
import type { CompileCache } from './cache.js';
import type { PodTables } from './selectorcache.js';
import type { IpcacheEntry } from './types.js';

/**
 * The ipcache depends only on the inventory and the identity allocation: reused while both stay.
 * Frozen, so later stages may memoize on it (lower encodes a frozen ipcache once).
 */
export function ipcacheOf(inv: Inventory, alloc: IdentityAllocation, tables: PodTables, cache: CompileCache | undefined): IpcacheEntry[] {
  const ipcache = cache?.ipcache?.alloc === alloc ? cache.ipcache.entries : (Object.freeze(ipcacheEntries(inv, tables)) as IpcacheEntry[]);
  if (cache) cache.ipcache = { alloc, entries: ipcache };
  return ipcache;
}

function ipcacheEntries(inv: Inventory, { podIds, cidrIds }: PodTables): IpcacheEntry[] {
  // Sorted as comparePrefix orders prefixes: IPv4 first, by address then length. IPv4 entries
  // sort by one number (address * 64 + length) and pod addresses are parsed without allocating.
  const v4: { e: IpcacheEntry; k: number }[] = [];
  const v6: { e: IpcacheEntry; p: Prefix }[] = [];
  const taken = new Set<string>();
  const add = (ip: string, e: (prefix: string) => IpcacheEntry) => {
    const n = ipv4ToInt(ip);
    if (n !== undefined) {
      const s = `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}/32`;
      if (taken.has(s)) return;
      taken.add(s);
      v4.push({ e: e(s), k: n * 64 + 32 });
      return;
    }
    const a = parseAddress(ip);
    if (!a) return;
    const hp = hostPrefix(a.family, a.addr);
    const s = formatPrefix(hp);
    if (taken.has(s)) return;
    taken.add(s);
    v6.push({ e: e(s), p: hp });
  };
  inv.pods.forEach((p, i) => {
    for (const ip of p.ips) add(ip, (prefix) => ({ prefix, identity: podIds[i]! }));
  });
  for (const n of inv.nodes)
    for (const ip of n.ips) add(ip, (prefix) => ({ prefix, identity: reservedIdentities['remote-node'], node: n.name }));
  for (const i of cidrIds) {
    const s = formatPrefix(i.prefix!);
    if (taken.has(s)) continue;
    const p = i.prefix!;
    if (p.family === 4)
      v4.push({
        e: { prefix: s, identity: i.id },
        k: (((p.addr[0]! * 256 + p.addr[1]!) * 256 + p.addr[2]!) * 256 + p.addr[3]!) * 64 + p.bits,
      });
    else v6.push({ e: { prefix: s, identity: i.id }, p });
  }
  v4.sort((a, b) => a.k - b.k);
  v6.sort((a, b) => comparePrefix(a.p, b.p));
  return [...v4.map((x) => x.e), ...v6.map((x) => x.e)];
}
