// Policies and inventory from a Kubernetes cluster (objects that Argo CD or Flux synced):
// informers (list + watch, resourceVersion, relist on 410 Gone, as client-node's ListWatch
// does) keep a cache; the revision is a digest of what the cache holds. Deliberately thin:
// objects become YAML files and go through the same loader and compiler as a Git tree.
import { createHash } from 'node:crypto';
import {
  CoreV1Api,
  CustomObjectsApi,
  NetworkingV1Api,
  makeInformer,
  type Informer,
  type KubeConfig,
  type KubernetesObject,
  type ObjectCache,
} from '@kubernetes/client-node';
import { stringify } from 'yaml';
import type { SourceFile } from '../../compiler/load/index.js';
import type { CompileInputs, CompileResult, Compiler } from '../reconcile/compiler.js';
import type { PolicySource, SourceUpdate } from '../reconcile/source.js';

interface Watched {
  kind: string;
  apiVersion: string;
  informer: Informer<KubernetesObject> & ObjectCache<KubernetesObject>;
}

/** What the controller watches: policies, and the inventory they select from. */
function resources(kc: KubeConfig): {
  kind: string;
  apiVersion: string;
  path: string;
  list: () => Promise<{ items: KubernetesObject[]; metadata?: { resourceVersion?: string } }>;
}[] {
  const core = kc.makeApiClient(CoreV1Api);
  const net = kc.makeApiClient(NetworkingV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const crd = (group: string, version: string, plural: string) => async () =>
    (await custom.listClusterCustomObject({ group, version, plural })) as {
      items: KubernetesObject[];
      metadata?: { resourceVersion?: string };
    };
  return [
    {
      kind: 'CiliumNetworkPolicy',
      apiVersion: 'cilium.io/v2',
      path: '/apis/cilium.io/v2/ciliumnetworkpolicies',
      list: crd('cilium.io', 'v2', 'ciliumnetworkpolicies'),
    },
    {
      kind: 'CiliumClusterwideNetworkPolicy',
      apiVersion: 'cilium.io/v2',
      path: '/apis/cilium.io/v2/ciliumclusterwidenetworkpolicies',
      list: crd('cilium.io', 'v2', 'ciliumclusterwidenetworkpolicies'),
    },
    {
      kind: 'TracingPolicy',
      apiVersion: 'cilium.io/v1alpha1',
      path: '/apis/cilium.io/v1alpha1/tracingpolicies',
      list: crd('cilium.io', 'v1alpha1', 'tracingpolicies'),
    },
    {
      kind: 'NetworkPolicy',
      apiVersion: 'networking.k8s.io/v1',
      path: '/apis/networking.k8s.io/v1/networkpolicies',
      list: async () => (await net.listNetworkPolicyForAllNamespaces()) as never,
    },
    { kind: 'Pod', apiVersion: 'v1', path: '/api/v1/pods', list: async () => (await core.listPodForAllNamespaces()) as never },
    { kind: 'Namespace', apiVersion: 'v1', path: '/api/v1/namespaces', list: async () => (await core.listNamespace()) as never },
  ];
}

export class KubeSource implements PolicySource {
  private readonly watched: Watched[] = [];
  private lastRevision: string | undefined;
  /** True once every informer has listed: before that a snapshot would be partial (client-go's HasSynced). */
  private synced = false;

  /** `onChange` runs on every watch event (the controller coalesces them into one reconcile). */
  constructor(
    private readonly kc: KubeConfig,
    private readonly onChange: () => void,
    private readonly onError: (kind: string, err: unknown) => void = () => undefined,
  ) {}

  async start(): Promise<void> {
    for (const r of resources(this.kc)) {
      const informer = makeInformer(this.kc, r.path, r.list as never);
      for (const ev of ['add', 'update', 'delete'] as const) informer.on(ev, () => this.synced && this.onChange());
      informer.on('error', (err: unknown) => {
        this.onError(r.kind, err);
        // Restart after a pause; ListWatch relists from scratch after a 410 on its own.
        setTimeout(() => void informer.start().catch((e: unknown) => this.onError(r.kind, e)), 1000);
      });
      this.watched.push({ kind: r.kind, apiVersion: r.apiVersion, informer });
    }
    await Promise.all(this.watched.map((w) => w.informer.start().catch((err: unknown) => this.onError(w.kind, err))));
    this.synced = true;
    this.onChange();
  }

  async stop(): Promise<void> {
    await Promise.all(this.watched.map((w) => w.informer.stop()));
  }

  /** Objects as files, in a stable order (the digest of their identities and resourceVersions is the revision). */
  snapshot(): { revision: string; files: SourceFile[] } {
    const files: SourceFile[] = [];
    const h = createHash('sha256');
    for (const w of this.watched) {
      const objs = [...w.informer.list()].sort((a, b) =>
        `${a.metadata?.namespace}/${a.metadata?.name}`.localeCompare(`${b.metadata?.namespace}/${b.metadata?.name}`),
      );
      for (const o of objs) {
        const md = o.metadata ?? {};
        h.update(`${w.apiVersion}/${w.kind}/${md.namespace ?? ''}/${md.name ?? ''}@${md.resourceVersion ?? ''}\n`);
        const { managedFields: _m, ...metadata } = md as Record<string, unknown>;
        void _m;
        const doc = { ...(o as unknown as Record<string, unknown>), apiVersion: w.apiVersion, kind: w.kind, metadata };
        files.push({
          file: `cluster/${w.kind}/${md.namespace ? `${md.namespace}/` : ''}${md.name ?? 'unnamed'}.yaml`,
          bytes: Buffer.from(stringify(doc)),
        });
      }
    }
    return { revision: h.digest('hex').slice(0, 40), files };
  }

  async poll(lastSeen: string | undefined): Promise<SourceUpdate | undefined> {
    if (!this.synced) return undefined;
    const { revision } = this.snapshot();
    const prev = lastSeen ?? this.lastRevision;
    this.lastRevision = revision;
    if (revision === prev) return undefined;
    return { commit: revision, forcePushed: false, subject: 'cluster objects changed' };
  }

  async compile(compiler: Compiler, revision: string, _paths: string[], inputs: CompileInputs = {}): Promise<CompileResult> {
    const snap = this.snapshot();
    // Objects may have changed between poll and compile: compile what is there now, under its own revision.
    return compiler.compileFiles(snap.files, snap.revision === revision ? revision : snap.revision, inputs);
  }
}
