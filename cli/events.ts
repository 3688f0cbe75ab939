// `weir events`: follow the runtime events of one or more agents (their /v1/events stream), like
// `tetra getevents`: Tetragon JSON lines (-o json) or one line per event (-o compact), filtered by
// namespace, pod, policy and event type on the agent.
import { parseArgs } from 'node:util';
import { UsageError, type Command } from './command.js';
import { Client, TransportError } from '../controller/transport/http.js';
import { compactLine } from '../controller/events/tetragon.js';
import { filterToQuery, type EventFilter } from '../controller/events/filter.js';
import { transportFlags, transportFrom, untilSignal } from './flags.js';

const usage = `usage: weir events --agent URL [--agent URL ...] [options]

  --agent URL              an agent's endpoint (its --listen address); repeat to follow several nodes
  -o, --output FORMAT      json (Tetragon JSON lines, the default) or compact
  --namespace NS           only events of pods in NS (repeatable)
  --pod NAME               only events of pod NAME or NS/NAME (repeatable)
  --policy NAME            only events of TracingPolicy NAME (repeatable)
  --event-types TYPE       process_exec, process_exit, process_kprobe, process_tracepoint (repeatable, or a comma list)
  --tls-cert/--tls-key/--tls-ca FILE, --token-file FILE, --insecure-loopback   as for weir agent`;

export const eventsCommand: Command = {
  name: 'events',
  summary: 'follow runtime events of agents as Tetragon JSON or compact lines',
  usage,
  async run(argv, io) {
    let v;
    try {
      v = parseArgs({
        args: argv,
        options: {
          agent: { type: 'string', multiple: true },
          output: { type: 'string', short: 'o', default: 'json' },
          namespace: { type: 'string', multiple: true },
          pod: { type: 'string', multiple: true },
          policy: { type: 'string', multiple: true },
          'event-types': { type: 'string', multiple: true },
          ...transportFlags,
        },
      }).values;
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    if (!v.agent?.length) throw new UsageError('--agent URL is required');
    if (v.output !== 'json' && v.output !== 'compact') throw new UsageError(`-o must be json or compact, not ${v.output}`);
    const types = (v['event-types'] ?? []).flatMap((t) => t.split(',')).filter(Boolean);
    const known = ['process_exec', 'process_exit', 'process_kprobe', 'process_tracepoint'];
    for (const t of types)
      if (!known.includes(t.toLowerCase())) throw new UsageError(`--event-types: ${t} is not one of ${known.join(', ')}`);
    const filter: EventFilter = {
      ...(v.namespace ? { namespaces: v.namespace } : {}),
      ...(v.pod ? { pods: v.pod } : {}),
      ...(v.policy ? { policies: v.policy } : {}),
      ...(types.length ? { types } : {}),
    };
    const transport = transportFrom(v);
    const abort = new AbortController();
    const compact = v.output === 'compact';
    let failed = false;
    const follows = v.agent.map(async (url) => {
      let client: Client;
      try {
        client = new Client(url, transport);
      } catch (err) {
        io.stderr(`weir events: ${url}: ${err instanceof TransportError ? err.message : (err as Error).message}\n`);
        failed = true;
        return;
      }
      try {
        const r = await client.stream(
          `/v1/events${filterToQuery(filter)}`,
          (line) => io.stdout((compact ? compactLine(JSON.parse(line) as Record<string, unknown>) : line) + '\n'),
          abort.signal,
        );
        if (r.status !== 200 && !abort.signal.aborted) {
          io.stderr(`weir events: ${url}: HTTP ${r.status} ${r.error ?? ''}\n`);
          failed = true;
        }
      } catch (err) {
        if (!abort.signal.aborted) {
          io.stderr(`weir events: ${url}: ${(err as Error).message}\n`);
          failed = true;
        }
      } finally {
        client.close();
      }
    });
    await Promise.race([Promise.all(follows), untilSignal().then(() => abort.abort())]);
    abort.abort();
    await Promise.allSettled(follows);
    return failed ? 2 : 0;
  },
};
