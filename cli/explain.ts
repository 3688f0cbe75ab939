// `weir explain`: why a flow is allowed or denied, and which map entry implements it.
import { mergeInventories } from '../compiler/build.js';
import { explainFlow, renderExplanation } from '../compiler/explain/explain.js';
import { dumpMapState, formatDiagnostic, parsePeer, parsePort } from '../compiler/explain/format.js';
import { loadInventory, readInventory } from '../compiler/inventory/load.js';
import { loadPolicies } from '../compiler/load/index.js';
import { lowerNetwork } from '../compiler/lower/network/images.js';
import { compileNetwork } from '../compiler/ir/network/index.js';
import { UsageError, type Command } from './command.js';
import { choice, commandConfig, networkInputs, parseCommandLine } from './inputs.js';

const usage = `usage: weir explain --from PEER --to PEER --port N/PROTO [--http METHOD:PATH]
                    [PATH...] [--rev REV] [--inventory FILE]... [--format text|json]
       weir explain --endpoint NAMESPACE/POD [PATH...] [--rev REV] [--inventory FILE]...

PEER is namespace/pod, an IP address, a CIDR, an entity (world, host, ...) or fqdn:NAME@IP.
Prints the verdict of each direction (egress at the source, ingress at the destination), the
deciding rule with file:line (and commit with --rev) and the policy map entry that implements it.
With --endpoint, prints that endpoint's whole policy map like \`cilium bpf policy get\`.`;

export const explainCommand: Command = {
  name: 'explain',
  summary: 'explain the verdict for one flow: deciding rule and map entry',
  usage,
  async run(argv, io) {
    const { values, positionals } = parseCommandLine(argv, {
      from: { type: 'string' },
      to: { type: 'string' },
      port: { type: 'string' },
      http: { type: 'string' },
      rev: { type: 'string' },
      inventory: { type: 'string', multiple: true },
      format: { type: 'string', default: 'text' },
      endpoint: { type: 'string' },
    });
    if (!values.endpoint && (!values.from || !values.to || !values.port))
      throw new UsageError("--from, --to and --port are required (or --endpoint to dump one endpoint's map)");
    choice('--format', values.format, ['text', 'json']);
    const from = values.endpoint ? { workload: values.endpoint } : parsePeer(values.from!);
    const to = values.endpoint ? { workload: values.endpoint } : parsePeer(values.to!);
    const port = values.endpoint ? { port: 0, protocol: 'TCP' } : parsePort(values.port!);
    if (typeof from === 'string') throw new UsageError(`--from ${from}`);
    if (typeof to === 'string') throw new UsageError(`--to ${to}`);
    if (typeof port === 'string') throw new UsageError(port);
    let http: { method: string; path: string } | undefined;
    if (values.http) {
      const i = values.http.indexOf(':');
      if (i <= 0) throw new UsageError('--http must be METHOD:PATH, e.g. POST:/v1/request-landing');
      http = { method: values.http.slice(0, i), path: values.http.slice(i + 1) };
    }
    const { paths, inventory: invPaths, rev } = networkInputs(io.cwd, positionals, values);
    const loaded = await loadPolicies(paths, { root: io.cwd, ...rev });
    const inv = await readInventory(invPaths, { root: io.cwd, ...rev });
    const extra = loadInventory(loaded.documents.filter((d) => d.family === 'workload'));
    const cfg = commandConfig(io.cwd, io.stderr);
    if (!cfg) return 2;
    const allowLocalhost = cfg.config?.allowLocalhost;
    const { ir, diagnostics } = compileNetwork(loaded.documents, mergeInventories(inv.inventory, extra.inventory), {
      ...(loaded.commit ? { commit: loaded.commit } : {}),
      ...(allowLocalhost ? { allowLocalhost } : {}),
    });
    const errors = [...loaded.diagnostics, ...inv.diagnostics, ...diagnostics].filter((d) => d.severity === 'error');
    for (const d of errors) io.stderr(formatDiagnostic(d) + '\n');
    if (errors.length) {
      io.stderr('weir explain: the policies do not compile; fix the errors above first\n');
      return 1;
    }
    const lowered = lowerNetwork(ir);
    if (values.endpoint) {
      const entries = lowered.mapStates.get(values.endpoint);
      if (!entries) {
        io.stderr(`weir explain: endpoint ${values.endpoint} is not in the inventory (write namespace/pod)\n`);
        return 2;
      }
      if (values.format === 'json') io.stdout(JSON.stringify({ endpoint: values.endpoint, entries }, null, 2) + '\n');
      else io.stdout(dumpMapState(ir, values.endpoint, entries));
      return 0;
    }
    const x = explainFlow(ir, lowered, { from, to, protocol: port.protocol, port: port.port, ...(http ? { http } : {}) });
    if (values.format === 'json') io.stdout(JSON.stringify(x, null, 2) + '\n');
    else io.stdout(renderExplanation(ir, x));
    return x.error ? 2 : 0;
  },
};
