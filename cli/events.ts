// `weir events`: follow the runtime events of one or more agents (their /v1/events stream), like
// `tetra getevents`: Tetragon JSON lines (-o json) or one line per event (-o compact), filtered by
// namespace, pod, policy and event type on the agent.
import { parseArgs } from 'node:util';
import { UsageError, type Command } from './command.js';
import { Client, TransportError } from '../controller/transport/http.js';
import { compactLine } from '../controller/events/tetragon.js';
import { filterToQuery, type EventFilter } from '../controller/events/filter.js';
import { transportFrom, untilSignal } from './flags.js';

/** An answer other than 200, with what to do about it. */
function refusal(status: number, body: string): string {
  let error = body;
  try {
    error = (JSON.parse(body) as { error?: string }).error ?? body;
  } catch {
    // not JSON: shown as it came
  }
  if (status === 401)
    return `HTTP 401: the agent refused the request: ${error} (pass --token-file, or --cert/--key signed by the CA of its --listen-client-ca)`;
  if (status === 403) return `HTTP 403: the agent refused these credentials: ${error}`;
  return `HTTP ${status} ${body}`;
}

/** A failed connection or TLS handshake, said in terms of the flags that fix it. */
function connectError(err: NodeJS.ErrnoException, v: { ca?: string; cert?: string }): string {
  const code = err.code ?? '';
  const msg = err.message;
  if (
    code === 'DEPTH_ZERO_SELF_SIGNED_CERT' ||
    code === 'SELF_SIGNED_CERT_IN_CHAIN' ||
    code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' ||
    code === 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY' ||
    code === 'CERT_SIGNATURE_FAILURE'
  )
    return `TLS: the agent's certificate is not signed by ${v.ca ? `the CA in --ca ${v.ca}` : 'a CA this system trusts (pass --ca)'} (${msg})`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID')
    return `TLS: the agent's certificate does not name this host; pass --tls-server-name with a name it has (${msg})`;
  if (code === 'CERT_HAS_EXPIRED') return `TLS: the agent's certificate has expired (${msg})`;
  if (/certificate required/i.test(msg) || code === 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED')
    return `TLS: the agent requires a client certificate: pass --cert and --key (${msg})`;
  if (/unknown ca|bad certificate|certificate unknown|decrypt error/i.test(msg))
    return `TLS: the agent refused the client certificate${v.cert ? ` in --cert ${v.cert}` : ''} (not signed by the CA it trusts) (${msg})`;
  // Under TLS 1.3 a server that refuses the client certificate may just close the connection.
  if (code === 'ECONNRESET' || /socket hang up/.test(msg))
    return v.cert
      ? `TLS: the agent closed the connection: it most likely refused the client certificate in --cert ${v.cert} (not signed by the CA it trusts) (${msg})`
      : `TLS: the agent closed the connection: it may require a client certificate: pass --cert and --key (${msg})`;
  return msg;
}

const usage = `usage: weir events --agent URL [--agent URL ...] [options]

  --agent URL              an agent's endpoint (its --listen address); repeat to follow several nodes
  -o, --output FORMAT      json (Tetragon JSON lines, the default) or compact
  --namespace NS           only events of pods in NS (repeatable)
  --pod NAME               only events of pod NAME or NS/NAME (repeatable)
  --policy NAME            only events of TracingPolicy NAME (repeatable)
  --event-types TYPE       process_exec, process_exit, process_kprobe, process_tracepoint, process_lsm (repeatable, or a comma list)
  --ca FILE                CA that signs the agents' serving certificate (default: the system's CAs)
  --cert FILE, --key FILE  client certificate and key, for an agent with --listen-client-ca
  --token-file FILE        bearer token, for an agent with --listen-token-file
  --tls-server-name NAME   name the agents' certificate is checked against (default: the URL's host)
  --insecure-loopback      allow an http:// URL (a loopback agent without TLS)

exit status: 0 when every stream ended (or on SIGINT/SIGTERM), 2 when an agent could not be followed
(unreachable, TLS refused, credentials refused) or on a usage error`;

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
          ca: { type: 'string' },
          cert: { type: 'string' },
          key: { type: 'string' },
          'token-file': { type: 'string' },
          'tls-server-name': { type: 'string' },
          'insecure-loopback': { type: 'boolean' },
        },
      }).values;
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    if (!v.agent?.length) throw new UsageError('--agent URL is required');
    if (v.output !== 'json' && v.output !== 'compact') throw new UsageError(`-o must be json or compact, not ${v.output}`);
    const types = (v['event-types'] ?? []).flatMap((t) => t.split(',')).filter(Boolean);
    const known = ['process_exec', 'process_exit', 'process_kprobe', 'process_tracepoint', 'process_lsm'];
    for (const t of types)
      if (!known.includes(t.toLowerCase())) throw new UsageError(`--event-types: ${t} is not one of ${known.join(', ')}`);
    const filter: EventFilter = {
      ...(v.namespace ? { namespaces: v.namespace } : {}),
      ...(v.pod ? { pods: v.pod } : {}),
      ...(v.policy ? { policies: v.policy } : {}),
      ...(types.length ? { types } : {}),
    };
    if ((v.cert === undefined) !== (v.key === undefined)) throw new UsageError('--cert and --key go together');
    const transport = {
      ...transportFrom({
        ...(v.cert ? { 'tls-cert': v.cert } : {}),
        ...(v.key ? { 'tls-key': v.key } : {}),
        ...(v.ca ? { 'tls-ca': v.ca } : {}),
        ...(v['token-file'] ? { 'token-file': v['token-file'] } : {}),
        ...(v['insecure-loopback'] ? { 'insecure-loopback': true } : {}),
      }),
      ...(v['tls-server-name'] ? { tlsServerName: v['tls-server-name'] } : {}),
    };
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
          io.stderr(`weir events: ${url}: ${refusal(r.status, r.error ?? '')}\n`);
          failed = true;
        }
      } catch (err) {
        if (!abort.signal.aborted) {
          io.stderr(`weir events: ${url}: ${connectError(err as NodeJS.ErrnoException, v)}\n`);
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
