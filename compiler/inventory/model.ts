// The inventory: what exists in the cluster that policies select. Pure data, read by the
// identity allocator, the network compiler and the plan.

export interface NamedPort {
  name: string;
  port: number;
  /** TCP, UDP or SCTP. */
  protocol: string;
}

/** Where an inventory object was declared, for diagnostics that point at the inventory file. */
export interface Origin {
  file: string;
  line: number;
  column: number;
}

export interface Namespace {
  name: string;
  labels: Record<string, string>;
  origin?: Origin;
}

export interface Pod {
  namespace: string;
  /** Pod name; for a pod derived from a workload template, `name[Kind]` as np-guard names it. */
  name: string;
  labels: Record<string, string>;
  ips: string[];
  node: string;
  serviceAccount: string;
  ports: NamedPort[];
  origin?: Origin;
  /**
   * The workload the pod belongs to, as np-guard names it: its controller owner from
   * `ownerReferences` (a ReplicaSet resolved to its Deployment, a Job to its CronJob, when those
   * are in the input too); undefined for a pod no controller owns.
   */
  owner?: WorkloadRef;
  /** Shares its node's network namespace: Cilium gives it the host's identity and no policy selects it. */
  hostNetwork?: boolean;
}

export interface WorkloadRef {
  kind: string;
  name: string;
}

export interface ServicePort {
  name?: string;
  port: number;
  targetPort?: number | string;
  protocol: string;
}

export interface Service {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  /** Pod selector; undefined for a service without selector (backends given by ips). */
  selector?: Record<string, string>;
  ports: ServicePort[];
  clusterIPs: string[];
  /** Backend addresses of a selectorless service (its Endpoints). */
  backendIPs: string[];
  origin?: Origin;
}

export interface Node {
  name: string;
  labels: Record<string, string>;
  ips: string[];
  origin?: Origin;
}

export interface CIDRGroup {
  name: string;
  labels: Record<string, string>;
  cidrs: string[];
  origin?: Origin;
}

export interface Inventory {
  namespaces: Namespace[];
  /** Pods with their own network namespace: the endpoints policies select. */
  pods: Pod[];
  /** Pods on their node's network (hostNetwork): not endpoints, but workloads all the same. */
  hostNetworkPods?: Pod[];
  services: Service[];
  nodes: Node[];
  cidrGroups: CIDRGroup[];
  /** Cluster name for the io.cilium.k8s.policy.cluster label. */
  cluster: string;
}

export function emptyInventory(): Inventory {
  return { namespaces: [], pods: [], services: [], nodes: [], cidrGroups: [], cluster: 'default' };
}

export function podKey(p: Pick<Pod, 'namespace' | 'name'>): string {
  return `${p.namespace}/${p.name}`;
}
