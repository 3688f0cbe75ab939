// A generated cluster for scale tests and the plan benchmark: namespaces of apps with replicas
// (an Inventory of live pods with generated names) and one CiliumNetworkPolicy per app.
export interface ScaleOptions {
  namespaces: number;
  appsPerNs: number;
  replicas: number;
}

const ports = [80, 443, 8080, 9090, 5432, 6379, 3306, 27017];

export function generateCluster(o: ScaleOptions): {
  files: Record<string, string>;
  oneFileChange: Record<string, string>;
  policies: number;
  pods: number;
} {
  const pods: string[] = [];
  const files: Record<string, string> = {};
  let ip = 0;
  const policy = (ns: number, a: number, port: number) => {
    const from = [(a + 1) % o.appsPerNs, (a + 3) % o.appsPerNs];
    return `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: app-${a}
  namespace: ns-${ns}
spec:
  endpointSelector:
    matchLabels: {app: app-${a}}
  ingress:
  - fromEndpoints:
${from.map((f) => `    - matchLabels: {app: app-${f}}`).join('\n')}
    - matchLabels: {app: app-${a}, k8s:io.kubernetes.pod.namespace: ns-${(ns + 1) % o.namespaces}}
    toPorts:
    - ports:
      - {port: "${port}", protocol: TCP}
`;
  };
  for (let n = 0; n < o.namespaces; n++) {
    for (let a = 0; a < o.appsPerNs; a++) {
      const hash = ((n * 7919 + a * 104729) % 0xffffffff).toString(16).padStart(8, '0').slice(0, 8).replace(/^./, 'a');
      for (let r = 0; r < o.replicas; r++) {
        ip++;
        const suffix = ((ip * 2654435761) % 60466176).toString(36).padStart(5, 'a').slice(-5).replace(/^\d/, 'x');
        pods.push(
          `  - {namespace: ns-${n}, name: app-${a}-${hash}-${suffix}, owner: {kind: Deployment, name: app-${a}}, labels: {app: app-${a}, team: team-${a % 3}}, ips: [10.${(ip >> 16) & 255}.${(ip >> 8) & 255}.${ip & 255}], node: node-${ip % 100}, ports: [{name: svc, port: ${ports[a % ports.length]}, protocol: TCP}]}`,
        );
      }
      files[`network/ns-${n}/app-${a}.yaml`] = policy(n, a, ports[a % ports.length]!);
    }
  }
  files['inventory.yaml'] =
    `apiVersion: weir.dev/v1alpha1\nkind: Inventory\nmetadata: {name: generated}\nspec:\n  pods:\n${pods.join('\n')}\n`;
  const changed = policy(0, 2, 9090);
  return { files, oneFileChange: { 'network/ns-0/app-2.yaml': changed }, policies: o.namespaces * o.appsPerNs, pods: pods.length };
}
