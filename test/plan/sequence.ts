// The commit sequence of the golden plans: a small shop (frontend → backend → db) whose
// policies evolve the way pull requests do.
import type { Step } from './repo.js';

export const apps = (frontendLabel: string) => `apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: frontend
  namespace: shop
spec:
  selector:
    matchLabels: {app: ${frontendLabel}}
  template:
    metadata:
      labels: {app: ${frontendLabel}}
    spec:
      containers:
      - name: web
        image: nginx
        ports:
        - {name: http, containerPort: 80}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: backend
  namespace: shop
spec:
  selector:
    matchLabels: {app: backend}
  template:
    metadata:
      labels: {app: backend}
    spec:
      containers:
      - name: api
        image: api
        ports:
        - {name: api, containerPort: 8080}
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
  namespace: shop
spec:
  selector:
    matchLabels: {app: db}
  template:
    metadata:
      labels: {app: db}
    spec:
      containers:
      - name: pg
        image: postgres
        ports:
        - {name: pg, containerPort: 5432}
`;

const dbPolicy = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: db-from-backend
  namespace: shop
spec:
  endpointSelector:
    matchLabels: {app: db}
  ingress:
  - fromEndpoints:
    - matchLabels: {app: backend}
    toPorts:
    - ports:
      - {port: "5432", protocol: TCP}
`;

const defaultDeny = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny
  namespace: shop
spec:
  podSelector: {}
  policyTypes: [Ingress]
`;

const backendPolicy = (l7: boolean) => `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: backend-from-frontend
  namespace: shop
spec:
  endpointSelector:
    matchLabels: {app: backend}
  ingress:
  - fromEndpoints:
    - matchLabels: {app: frontend}
    toPorts:
    - ports:
      - {port: "8080", protocol: TCP}
${
  l7
    ? `      rules:
        http:
        - {method: GET, path: "/api/.*"}
`
    : ''
}`;

const shadow = `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: no-shadow-reads
spec:
  kprobes:
  - call: sys_openat
    syscall: true
    args:
    - {index: 0, type: int}
    - {index: 1, type: string}
    selectors:
    - matchBinaries:
      - operator: In
        values: [/usr/bin/cat]
      matchArgs:
      - index: 1
        operator: Prefix
        values: [/etc/shadow]
      matchActions:
      - action: Sigkill
`;

export const steps: Step[] = [
  {
    name: 'initial',
    message: 'shop apps; db accepts the backend',
    write: { 'apps/shop.yaml': apps('frontend'), 'network/db.yaml': dbPolicy },
  },
  { name: 'default-deny', message: 'add a default-deny for shop ingress', write: { 'network/default-deny.yaml': defaultDeny } },
  { name: 'open-port', message: 'open backend 8080 to the frontend', write: { 'network/backend.yaml': backendPolicy(false) } },
  { name: 'l7-rule', message: 'only GET /api/.* on the backend', write: { 'network/backend.yaml': backendPolicy(true) } },
  { name: 'delete-policy', message: 'delete the db policy', remove: ['network/db.yaml'] },
  { name: 'rename-label', message: 'rename the frontend label app=frontend to app=web', write: { 'apps/shop.yaml': apps('web') } },
  { name: 'sigkill', message: 'kill cat reading /etc/shadow', write: { 'tracing/shadow.yaml': shadow } },
];

/** Observed traffic for the plans: the frontend calls the backend, the backend calls the db, cat reads shadow. */
export const flows = [
  {
    time: '2026-01-01T09:00:00Z',
    verdict: 'FORWARDED',
    IP: { source: '10.0.0.10', destination: '10.0.0.20' },
    l4: { TCP: { source_port: 40000, destination_port: 8080 } },
    source: {
      namespace: 'shop',
      pod_name: 'frontend-6d8f7-abcde',
      labels: ['k8s:app=frontend'],
      workloads: [{ name: 'frontend', kind: 'Deployment' }],
    },
    destination: {
      namespace: 'shop',
      pod_name: 'backend-7f9c8-fghij',
      labels: ['k8s:app=backend'],
      workloads: [{ name: 'backend', kind: 'Deployment' }],
    },
    is_reply: false,
  },
  {
    time: '2026-01-01T09:00:01Z',
    verdict: 'FORWARDED',
    IP: { source: '10.0.0.20', destination: '10.0.0.30' },
    l4: { TCP: { source_port: 40001, destination_port: 5432 } },
    source: {
      namespace: 'shop',
      pod_name: 'backend-7f9c8-fghij',
      labels: ['k8s:app=backend'],
      workloads: [{ name: 'backend', kind: 'Deployment' }],
    },
    destination: { namespace: 'shop', pod_name: 'db-0', labels: ['k8s:app=db'], workloads: [{ name: 'db', kind: 'StatefulSet' }] },
    is_reply: false,
  },
  {
    time: '2026-01-01T09:00:01Z',
    verdict: 'FORWARDED',
    IP: { source: '10.0.0.30', destination: '10.0.0.20' },
    l4: { TCP: { source_port: 5432, destination_port: 40001 } },
    source: { namespace: 'shop', pod_name: 'db-0', labels: ['k8s:app=db'] },
    destination: { namespace: 'shop', pod_name: 'backend-7f9c8-fghij', labels: ['k8s:app=backend'] },
    is_reply: true,
  },
  // An L7 flow: Hubble reports the HTTP request of a proxied connection.
  {
    time: '2026-01-01T09:00:02Z',
    verdict: 'FORWARDED',
    Type: 'L7',
    IP: { source: '10.0.0.10', destination: '10.0.0.20' },
    l4: { TCP: { source_port: 40002, destination_port: 8080 } },
    source: {
      namespace: 'shop',
      pod_name: 'frontend-6d8f7-abcde',
      labels: ['k8s:app=frontend'],
      workloads: [{ name: 'frontend', kind: 'Deployment' }],
    },
    destination: {
      namespace: 'shop',
      pod_name: 'backend-7f9c8-fghij',
      labels: ['k8s:app=backend'],
      workloads: [{ name: 'backend', kind: 'Deployment' }],
    },
    l7: { type: 'REQUEST', http: { method: 'POST', url: 'http://backend.shop:8080/admin/reindex' } },
    is_reply: false,
  },
]
  .map((f) => JSON.stringify(f))
  .concat(['{"flow": truncated by log rotation'])
  .join('\n');

export const events = [
  {
    process_kprobe: {
      process: {
        binary: '/usr/bin/cat',
        arguments: '/etc/shadow',
        pod: { namespace: 'shop', name: 'backend-7f9c8-fghij', workload: 'backend' },
      },
      function_name: '__x64_sys_openat',
      args: [{ int_arg: -100 }, { string_arg: '/etc/shadow' }],
      action: 'KPROBE_ACTION_POST',
    },
    node_name: 'node-1',
    time: '2026-01-01T09:00:02Z',
  },
  {
    process_kprobe: {
      process: { binary: '/usr/bin/cat', pod: { namespace: 'shop', name: 'backend-7f9c8-fghij' } },
      function_name: '__x64_sys_openat',
      args: [{ int_arg: -100 }, { string_arg: '/etc/hosts' }],
    },
    time: '2026-01-01T09:00:03Z',
  },
]
  .map((e) => JSON.stringify(e))
  .join('\n');
