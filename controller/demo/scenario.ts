// The demo's story, after Cilium's Star Wars getting-started guide: the Empire's deathstar
// accepts landing requests from tiefighters; a policy change lets the Alliance's xwing land too.
export const scenarioPods = `# Three pods on one node, as in Cilium's Star Wars demo.
apiVersion: v1
kind: Pod
metadata: {name: deathstar, namespace: default, labels: {org: empire, class: deathstar}}
spec: {nodeName: node-1}
status: {podIP: 10.200.0.10}
---
apiVersion: v1
kind: Pod
metadata: {name: tiefighter, namespace: default, labels: {org: empire, class: tiefighter}}
spec: {nodeName: node-1}
status: {podIP: 10.200.0.11}
---
apiVersion: v1
kind: Pod
metadata: {name: xwing, namespace: default, labels: {org: alliance, class: xwing}}
spec: {nodeName: node-1}
status: {podIP: 10.200.0.12}
`;

export const scenarioRule = `# Only the Empire may land on the deathstar, and only on port 80.
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: rule1
  namespace: default
spec:
  endpointSelector:
    matchLabels: {org: empire, class: deathstar}
  ingress:
  - fromEndpoints:
    - matchLabels: {org: empire}
    toPorts:
    - ports: [{port: "80", protocol: TCP}]
`;

/** The change the demo commits: an additive allow, so it reads the same over any base policy. */
export const scenarioChange = `# The Alliance negotiated landing rights on port 80.
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: alliance-landing
  namespace: default
spec:
  endpointSelector:
    matchLabels: {org: empire, class: deathstar}
  ingress:
  - fromEndpoints:
    - matchLabels: {org: alliance}
    toPorts:
    - ports: [{port: "80", protocol: TCP}]
`;

export const demoFlows: { from: string; to: string; port: number }[] = [
  { from: 'tiefighter', to: 'deathstar', port: 80 },
  { from: 'xwing', to: 'deathstar', port: 80 },
  { from: 'tiefighter', to: 'deathstar', port: 8080 },
];
