// The subset of Tetragon's TracingPolicy that converters emit, and a structural check against Tetragon's
// field structure and selector limits (pkg/k8s/apis/cilium.io/v1alpha1 and pkg/selectors).
import { tetragonLimits as limits } from '../model/tetragon-limits.js';

export type ArgOperator = 'Equal' | 'NotEqual' | 'Prefix' | 'NotPrefix' | 'Postfix' | 'NotPostfix' | 'Mask' | 'GT' | 'LT';
export type BinaryOperator = 'In' | 'NotIn' | 'Prefix' | 'NotPrefix' | 'Postfix' | 'NotPostfix';
export type ActionName = 'Post' | 'Sigkill' | 'Signal' | 'Override' | 'NoPost';

export interface ArgSpec {
  index: number;
  type: string;
}

export interface MatchArg {
  index: number;
  operator: ArgOperator;
  values: string[];
}

export interface Selector {
  matchArgs?: MatchArg[];
  matchBinaries?: { operator: BinaryOperator; values: string[] }[];
  matchCapabilities?: { type: 'Effective' | 'Inheritable' | 'Permitted'; operator: 'In' | 'NotIn'; values: string[] }[];
  matchNamespaces?: {
    namespace: 'Mnt' | 'Pid' | 'Net' | 'Uts' | 'Ipc' | 'Cgroup' | 'User' | 'Time';
    operator: 'In' | 'NotIn';
    values: string[];
  }[];
  matchActions?: { action: ActionName; argSig?: number }[];
}

export interface KProbeSpec {
  call: string;
  syscall: boolean;
  args?: ArgSpec[];
  selectors?: Selector[];
}

export interface TracingPolicy {
  apiVersion: 'cilium.io/v1alpha1';
  kind: 'TracingPolicy' | 'TracingPolicyNamespaced';
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  spec: {
    podSelector?: { matchLabels?: Record<string, string> };
    kprobes?: KProbeSpec[];
  };
}

const argTypes = new Set([
  'int',
  'uint32',
  'uint64',
  'int64',
  'string',
  'char_buf',
  'char_iovec',
  'fd',
  'file',
  'path',
  'sockaddr',
  'sock',
  'skb',
  'size_t',
  'bpf_attr',
  'perf_event',
  'bpf_map',
  'user_namespace',
  'capability',
  'cred',
  'linux_binprm',
  'kernel_cap_t',
  'cap_inheritable',
  'cap_permitted',
  'cap_effective',
  'load_info',
  'module',
  'nop',
  'const_buf',
]);
const argOps = new Set<ArgOperator>(['Equal', 'NotEqual', 'Prefix', 'NotPrefix', 'Postfix', 'NotPostfix', 'Mask', 'GT', 'LT']);
const binOps = new Set<BinaryOperator>(['In', 'NotIn', 'Prefix', 'NotPrefix', 'Postfix', 'NotPostfix']);
const actions = new Set<ActionName>(['Post', 'Sigkill', 'Signal', 'Override', 'NoPost']);
const dns1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Returns the structural problems of a policy (empty when it is a valid TracingPolicy within Tetragon's limits). */
export function validateTracingPolicy(p: TracingPolicy): string[] {
  const out: string[] = [];
  if (p.apiVersion !== 'cilium.io/v1alpha1') out.push(`apiVersion ${String(p.apiVersion)}`);
  if (p.kind !== 'TracingPolicy' && p.kind !== 'TracingPolicyNamespaced') out.push(`kind ${String(p.kind)}`);
  if (!dns1123.test(p.metadata.name) || p.metadata.name.length > 253)
    out.push(`metadata.name \`${p.metadata.name}\` is not a DNS-1123 subdomain`);
  if (p.kind === 'TracingPolicyNamespaced' && !p.metadata.namespace) out.push('TracingPolicyNamespaced needs metadata.namespace');
  if (p.kind === 'TracingPolicy' && p.metadata.namespace) out.push('TracingPolicy is cluster-scoped; it has no metadata.namespace');
  for (const [k, v] of Object.entries(p.metadata.annotations ?? {})) if (typeof v !== 'string') out.push(`annotation ${k} is not a string`);
  const kprobes = p.spec.kprobes ?? [];
  if (kprobes.length === 0) out.push('spec.kprobes is empty');
  kprobes.forEach((kp, h) => {
    const at = `spec.kprobes[${h}]`;
    if (!/^[a-z_][a-z0-9_]*$/.test(kp.call)) out.push(`${at}.call \`${kp.call}\``);
    const declared = new Map((kp.args ?? []).map((a) => [a.index, a.type]));
    for (const a of kp.args ?? []) {
      if (!Number.isInteger(a.index) || a.index < 0 || a.index > 5) out.push(`${at}.args index ${a.index} outside 0..5`);
      if (!argTypes.has(a.type)) out.push(`${at}.args type ${a.type}`);
    }
    const sels = kp.selectors ?? [];
    if (sels.length > limits.selectorsPerHook) out.push(`${at} has ${sels.length} selectors; Tetragon allows ${limits.selectorsPerHook}`);
    sels.forEach((s, k) => {
      const sat = `${at}.selectors[${k}]`;
      const ma = s.matchArgs ?? [];
      if (ma.length > limits.matchArgsPerSelector)
        out.push(`${sat} has ${ma.length} matchArgs; Tetragon allows ${limits.matchArgsPerSelector}`);
      for (const m of ma) {
        const t = declared.get(m.index);
        if (!t) out.push(`${sat}.matchArgs index ${m.index} is not declared in args`);
        if (!argOps.has(m.operator)) out.push(`${sat}.matchArgs operator ${m.operator}`);
        if (m.values.length === 0 || m.values.some((v) => typeof v !== 'string'))
          out.push(`${sat}.matchArgs values must be non-empty strings`);
        const numeric = t !== undefined && t !== 'string' && t !== 'char_buf' && t !== 'file' && t !== 'path' && t !== 'fd';
        if (numeric && m.values.length > limits.valuesPerNumericOperator)
          out.push(
            `${sat}.matchArgs on index ${m.index} has ${m.values.length} numeric values; Tetragon allows ${limits.valuesPerNumericOperator}`,
          );
        if (numeric && m.values.some((v) => !/^-?(0x[0-9a-f]+|\d+)$/i.test(v)))
          out.push(`${sat}.matchArgs on index ${m.index}: numeric values must be integers`);
        if (!numeric && (m.operator === 'Mask' || m.operator === 'GT' || m.operator === 'LT'))
          out.push(`${sat}.matchArgs ${m.operator} needs a numeric argument`);
      }
      const mb = s.matchBinaries ?? [];
      if (mb.length > limits.matchBinariesPerSelector)
        out.push(`${sat} has ${mb.length} matchBinaries; Tetragon allows ${limits.matchBinariesPerSelector}`);
      for (const b of mb) {
        if (!binOps.has(b.operator)) out.push(`${sat}.matchBinaries operator ${b.operator}`);
        if (b.values.length === 0) out.push(`${sat}.matchBinaries values empty`);
      }
      for (const c of s.matchCapabilities ?? [])
        if (c.values.some((v) => !/^CAP_[A-Z_]+$/.test(v))) out.push(`${sat}.matchCapabilities values must be CAP_* names`);
      const acts = s.matchActions ?? [];
      if (acts.length > limits.actionsPerSelector)
        out.push(`${sat} has ${acts.length} actions; Tetragon allows ${limits.actionsPerSelector}`);
      for (const a of acts) if (!actions.has(a.action)) out.push(`${sat}.matchActions action ${a.action}`);
    });
  });
  return out;
}
