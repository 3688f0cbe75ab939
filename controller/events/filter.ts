// Filters over Tetragon JSON events, as `tetra getevents --namespace/--pod/--policy-names/--event-types` applies them.
export interface EventFilter {
  namespaces?: string[];
  pods?: string[];
  policies?: string[];
  /** process_exec, process_exit, process_kprobe, process_tracepoint, process_lsm (Tetragon's names, upper case accepted). */
  types?: string[];
}

const KINDS = ['process_exec', 'process_exit', 'process_kprobe', 'process_tracepoint', 'process_lsm'];

/** The event's kind (its one top-level event field). */
export function eventKind(o: Record<string, unknown>): string | undefined {
  return KINDS.find((k) => k in o);
}

export function matchesFilter(o: Record<string, unknown>, f: EventFilter): boolean {
  const kind = eventKind(o);
  if (!kind) return false;
  if (f.types?.length && !f.types.some((t) => t.toLowerCase() === kind)) return false;
  const body = o[kind] as { process?: { pod?: { namespace?: string; name?: string } }; policy_name?: string };
  const pod = body.process?.pod;
  if (f.namespaces?.length && !f.namespaces.includes(pod?.namespace ?? '')) return false;
  if (f.pods?.length && !f.pods.some((p) => p === pod?.name || p === `${pod?.namespace}/${pod?.name}`)) return false;
  if (f.policies?.length && !f.policies.includes(body.policy_name ?? '')) return false;
  return true;
}

/** Reads a filter from URL query parameters (repeatable, or comma lists): namespace, pod, policy, type. */
export function filterFromQuery(q: URLSearchParams): EventFilter {
  const list = (k: string) =>
    q
      .getAll(k)
      .flatMap((v) => v.split(','))
      .filter(Boolean);
  const f: EventFilter = {};
  for (const [k, key] of [
    ['namespace', 'namespaces'],
    ['pod', 'pods'],
    ['policy', 'policies'],
    ['type', 'types'],
  ] as const) {
    const v = list(k);
    if (v.length) f[key] = v;
  }
  return f;
}

export function filterToQuery(f: EventFilter): string {
  const q = new URLSearchParams();
  for (const [k, v] of [
    ['namespace', f.namespaces],
    ['pod', f.pods],
    ['policy', f.policies],
    ['type', f.types],
  ] as const)
    for (const x of v ?? []) q.append(k, x);
  const s = q.toString();
  return s ? `?${s}` : '';
}
