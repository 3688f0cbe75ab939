// Test helpers: compile YAML text (policies + inventory) without touching the file system.
import { loadSources, type PolicyDocument } from '../../compiler/load/index.js';
import { compileNetwork, loadInventory, type NetworkIR } from '../../compiler/ir/network/index.js';
import type { Diagnostic } from '../../compiler/diagnostics.js';

export function docs(file: string, text: string): PolicyDocument[] {
  const r = loadSources([{ file, bytes: new TextEncoder().encode(text) }]);
  if (r.diagnostics.length) throw new Error(r.diagnostics.map((d) => d.message).join('\n'));
  return r.documents;
}

export function compileText(policies: string, inventory: string): { ir: NetworkIR; diagnostics: Diagnostic[] } {
  const inv = loadInventory(docs('inventory.yaml', inventory));
  if (inv.diagnostics.length) throw new Error(inv.diagnostics.map((d) => d.message).join('\n'));
  return compileNetwork(docs('policy.yaml', policies), inv.inventory);
}

export const smallInventory = `
apiVersion: weir.dev/v1alpha1
kind: Inventory
metadata: {name: t}
spec:
  nodes: [{name: n1, ips: [192.168.0.1]}]
  namespaces:
  - {name: a, labels: {team: red}}
  - {name: b, labels: {team: blue}}
  pods:
  - {namespace: a, name: web, labels: {app: web}, ips: [10.0.0.1], node: n1, ports: [{name: http, port: 8080}]}
  - {namespace: a, name: db, labels: {app: db}, ips: [10.0.0.2], node: n1, ports: [{name: pg, port: 5432}]}
  - {namespace: b, name: web, labels: {app: web}, ips: [10.0.1.1], node: n1, ports: [{name: http, port: 9090}]}
  - {namespace: b, name: client, labels: {app: client}, ips: [10.0.1.2], node: n1}
`;
