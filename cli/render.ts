// `weir render`: what Argo CD's Config Management Plugin runs. Loads the policy repository,
// refuses it with file:line:col diagnostics when it does not load cleanly, and prints only
// manifests: the network and runtime policies, then a PolicyRollout pinned to the revision.
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { UsageError, type Command } from './command.js';
import { loadPolicies } from '../compiler/load/index.js';

const usage = `usage: weir render [PATH...] [--revision REV] [--repository URL] [--name NAME] [--namespace NS] [--no-policies]

Prints Kubernetes manifests on stdout (nothing else): the policies found under PATH (default .)
and a weir.dev/v1alpha1 PolicyRollout for them. Diagnostics go to stderr; exit 1 when a file
does not load. Argo CD's plugin passes ARGOCD_APP_REVISION and ARGOCD_APP_SOURCE_REPO_URL.

  --revision REV      pin the PolicyRollout to this commit
  --repository URL    source repository recorded in the PolicyRollout
  --name NAME         PolicyRollout name (default policies)
  --namespace NS      PolicyRollout namespace (default weir-system)
  --no-policies       print only the PolicyRollout (the controller then reads Git itself)`;

const dns1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export const renderCommand: Command = {
  name: 'render',
  summary: 'print the manifests for a policy repository (Argo CD plugin)',
  usage,
  async run(argv, io) {
    let parsed;
    try {
      parsed = parseArgs({
        args: argv,
        allowPositionals: true,
        options: {
          revision: { type: 'string' },
          repository: { type: 'string' },
          name: { type: 'string', default: 'policies' },
          namespace: { type: 'string', default: 'weir-system' },
          'no-policies': { type: 'boolean', default: false },
        },
      });
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const v = parsed.values;
    const name = v.name
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 63);
    if (!dns1123.test(name)) throw new UsageError(`--name ${v.name}: not usable as a Kubernetes name`);
    const paths = parsed.positionals.length ? parsed.positionals : ['.'];
    const loaded = await loadPolicies(paths, { root: io.cwd });
    const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
    for (const d of loaded.diagnostics) io.stderr(`${d.file}:${d.line}:${d.column}: ${d.severity}: ${d.message} [${d.rule}]\n`);
    if (errors.length) {
      io.stderr(`weir render: ${errors.length} error(s); nothing rendered\n`);
      return 1;
    }
    const docs: unknown[] = [];
    if (!v['no-policies']) {
      for (const d of loaded.documents) if (d.family === 'network' || d.family === 'runtime') docs.push(d.value);
    }
    docs.push({
      apiVersion: 'weir.dev/v1alpha1',
      kind: 'PolicyRollout',
      metadata: { name, namespace: v.namespace, labels: { 'app.kubernetes.io/managed-by': 'weir-render' } },
      spec: {
        ...(v.repository || v.revision || v['no-policies']
          ? { source: { ...(v.repository ? { repository: v.repository } : {}), ...(v.revision ? { revision: v.revision } : {}), paths } }
          : {}),
        canary: { count: 1, maxDropRateIncrease: 0.05 },
      },
    });
    io.stdout(docs.map((d) => stringify(d, { lineWidth: 0 })).join('---\n'));
    return 0;
  },
};
