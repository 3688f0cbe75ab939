// The document kinds weir understands, keyed by API group and kind as upstream spells them.
import { isObj } from '../model/value.js';
import { editDistance } from '../model/spelling.js';

export type DocumentFamily =
  | 'network' // CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy, NetworkPolicy
  | 'runtime' // TracingPolicy, TracingPolicyNamespaced
  | 'psp' // PodSecurityPolicy
  | 'falco' // a Falco rules file (the whole file is one document)
  | 'weir' // Inventory, PolicyTest, Guardrail
  | 'workload' // application manifests that feed the inventory
  | 'ignored'; // known Kubernetes kinds that carry no policy (ServiceAccount, ConfigMap, ...)

export interface KindInfo {
  family: DocumentFamily;
  /** API groups/versions accepted for this kind (apiVersion values). */
  apiVersions: readonly string[];
  namespaced: boolean;
  /** Name of the JSON Schema in schemas/ that validates it, if any. */
  schema?: string;
}

export const kinds: Readonly<Record<string, KindInfo>> = {
  CiliumNetworkPolicy: { family: 'network', apiVersions: ['cilium.io/v2'], namespaced: true, schema: 'cilium-network-policy' },
  CiliumClusterwideNetworkPolicy: {
    family: 'network',
    apiVersions: ['cilium.io/v2'],
    namespaced: false,
    schema: 'cilium-clusterwide-network-policy',
  },
  NetworkPolicy: { family: 'network', apiVersions: ['networking.k8s.io/v1'], namespaced: true, schema: 'network-policy' },
  TracingPolicy: {
    family: 'runtime',
    apiVersions: ['cilium.io/v1alpha1', 'isovalent.com/v1alpha1'],
    namespaced: false,
    schema: 'tracing-policy',
  },
  TracingPolicyNamespaced: {
    family: 'runtime',
    apiVersions: ['cilium.io/v1alpha1', 'isovalent.com/v1alpha1'],
    namespaced: true,
    schema: 'tracing-policy',
  },
  PodSecurityPolicy: { family: 'psp', apiVersions: ['policy/v1beta1'], namespaced: false, schema: 'pod-security-policy' },
  Inventory: { family: 'weir', apiVersions: ['weir.dev/v1alpha1'], namespaced: false, schema: 'inventory' },
  PolicyTest: { family: 'weir', apiVersions: ['weir.dev/v1alpha1'], namespaced: false, schema: 'policy-test' },
  Guardrail: { family: 'weir', apiVersions: ['weir.dev/v1alpha1'], namespaced: false, schema: 'guardrail' },
  Namespace: { family: 'workload', apiVersions: ['v1'], namespaced: false },
  Pod: { family: 'workload', apiVersions: ['v1'], namespaced: true },
  Service: { family: 'workload', apiVersions: ['v1'], namespaced: true },
  Node: { family: 'workload', apiVersions: ['v1'], namespaced: false },
  Deployment: { family: 'workload', apiVersions: ['apps/v1'], namespaced: true },
  StatefulSet: { family: 'workload', apiVersions: ['apps/v1'], namespaced: true },
  DaemonSet: { family: 'workload', apiVersions: ['apps/v1'], namespaced: true },
  ReplicaSet: { family: 'workload', apiVersions: ['apps/v1'], namespaced: true },
  Job: { family: 'workload', apiVersions: ['batch/v1'], namespaced: true },
  CronJob: { family: 'workload', apiVersions: ['batch/v1', 'batch/v1beta1'], namespaced: true },
  ReplicationController: { family: 'workload', apiVersions: ['v1'], namespaced: true },
  ServiceAccount: { family: 'ignored', apiVersions: ['v1'], namespaced: true },
  ConfigMap: { family: 'ignored', apiVersions: ['v1'], namespaced: true },
  Secret: { family: 'ignored', apiVersions: ['v1'], namespaced: true },
  CiliumEnvoyConfig: { family: 'ignored', apiVersions: ['cilium.io/v2'], namespaced: true },
  CiliumClusterwideEnvoyConfig: { family: 'ignored', apiVersions: ['cilium.io/v2'], namespaced: false },
  CiliumCIDRGroup: { family: 'workload', apiVersions: ['cilium.io/v2alpha1', 'cilium.io/v2'], namespaced: false },
  Kustomization: {
    family: 'ignored',
    apiVersions: ['kustomize.config.k8s.io/v1beta1', 'kustomize.toolkit.fluxcd.io/v1'],
    namespaced: false,
  },
  // weir's own rollout object (controller/kube): lives in the same repositories as policies.
  PolicyRollout: { family: 'ignored', apiVersions: ['weir.dev/v1alpha1'], namespaced: true },
  // What weir writes (reports, plans, bundles) may be committed beside the policies it describes.
  Plan: { family: 'ignored', apiVersions: ['weir.dev/v1alpha1'], namespaced: false },
  LintReport: { family: 'ignored', apiVersions: ['weir.dev/v1alpha1'], namespaced: false },
  Bundle: { family: 'ignored', apiVersions: ['weir.dev/v1alpha1'], namespaced: false },
  NodeBundle: { family: 'ignored', apiVersions: ['weir.dev/v1alpha1'], namespaced: false },
  NodeBundleDelta: { family: 'ignored', apiVersions: ['weir.dev/v1alpha1'], namespaced: false },
  BlobDelta: { family: 'ignored', apiVersions: ['weir.dev/v1alpha1'], namespaced: false },
  PspConversionReport: { family: 'ignored', apiVersions: ['weir.dev/v1alpha1'], namespaced: false },
  FalcoConversionReport: { family: 'ignored', apiVersions: ['weir.dev/v1alpha1'], namespaced: false },
};

/**
 * The kind of the items of a List kind: `Pod` for `PodList`, '' for a plain `List` (its items
 * name their own kinds), undefined when `kind` is not a List.
 */
export function itemKindOfList(kind: string): string | undefined {
  if (kind === 'List') return '';
  return kind.length > 4 && kind.endsWith('List') ? kind.slice(0, -4) : undefined;
}

/**
 * API groups that hold nothing but the policies weir reads (and weir's own objects): an unknown
 * kind there is a mistake, not another tool's object. (networking.k8s.io and policy also serve
 * Ingress and PodDisruptionBudget, which are expected beside policies.)
 */
export const policyGroups: ReadonlySet<string> = new Set(['cilium.io', 'isovalent.com', 'weir.dev']);

/** A policy kind `kind` nearly spells (case, a letter or two), for "did you mean". */
export function similarKind(kind: string): string | undefined {
  const lower = kind.toLowerCase();
  for (const [k, info] of Object.entries(kinds)) {
    if (info.family !== 'network' && info.family !== 'runtime' && info.family !== 'psp' && info.family !== 'weir') continue;
    if (k.toLowerCase() === lower || editDistance(k.toLowerCase(), lower) <= 2) return k;
  }
  return undefined;
}

export function kindInfo(kind: string): KindInfo | undefined {
  return Object.hasOwn(kinds, kind) ? kinds[kind] : undefined;
}

/** Whether a YAML top-level value looks like a Falco rules file: a sequence of rule/macro/list/required_* items. */
export function looksLikeFalcoRules(value: unknown): boolean {
  if (!Array.isArray(value) || value.length === 0) return false;
  let hits = 0;
  for (const item of value) {
    if (isObj(item)) {
      const keys = Object.keys(item);
      if (
        keys.some(
          (k) => k === 'rule' || k === 'macro' || k === 'list' || k === 'required_engine_version' || k === 'required_plugin_versions',
        )
      )
        hits++;
    }
  }
  return hits > 0 && hits >= value.length / 2;
}
