// Every diagnostic code weir can emit, described once: the lint rules from their meta, the schema
// checks from schema.ts, and the stage codes (load, inventory, network, lower, runtime, policytest,
// plan, falco, convert, guardrail) listed here. SARIF rule descriptors and docs/lint-rules.md are
// generated from this; test/lint/codes.test.ts fails when a code in the sources is missing here.
import type { Severity } from '../diagnostics.js';
import { rules } from './registry.js';
import { schemaRules } from './schema.js';

/** Where weir's documentation lives; rule help links point into docs/lint-rules.md there. */
export const projectUrl = 'https://github.com/weir-dev/weir';
export const lintRulesDoc = `${projectUrl}/blob/main/docs/lint-rules.md`;

/** Anchor of a code in docs/lint-rules.md (written as an explicit `<a id>`, so it does not depend on the renderer's slugs). */
export const codeAnchor = (id: string): string => id.replace(/[^a-z0-9]+/gi, '-').toLowerCase();

export interface StageArea {
  prefix: string;
  title: string;
  /** What the stage does and what to do about its findings, shared by its codes. */
  help: string;
}

export const stageAreas: readonly StageArea[] = [
  {
    prefix: 'load',
    title: 'Loading files',
    help: 'weir reads policy files (YAML or JSON, from the work tree or a Git revision) with hard limits on size, depth and aliases so hostile input yields one diagnostic instead of a crash. Fix the file at the place shown; the rest of the run goes on.',
  },
  {
    prefix: 'inventory',
    title: 'Inventory',
    help: 'The inventory (a weir Inventory, `kubectl get -A -o yaml|json`, or workload manifests) tells weir which pods, namespaces, nodes, services and CIDR groups exist. Every address belongs to one endpoint and every entry needs a name.',
  },
  {
    prefix: 'network',
    title: 'Network compiler',
    help: "The network front end turns CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy and NetworkPolicy into weir's IR with Cilium's semantics. Anything weir cannot honour exactly is an error at the field, never a silent approximation.",
  },
  {
    prefix: 'lower',
    title: 'Map lowering',
    help: 'Lowering turns the IR into BPF map images per node; the maps have fixed capacities (see bpf/include). Narrow selectors or port ranges, or raise the map size where the message says how.',
  },
  {
    prefix: 'runtime',
    title: 'Runtime compiler',
    help: "TracingPolicy and TracingPolicyNamespaced are compiled for weir's syscall-entry handler with Tetragon's limits and semantics. What a node cannot do is an error naming the node and the reason, never a silent downgrade.",
  },
  {
    prefix: 'policytest',
    title: 'Policy tests',
    help: 'A PolicyTest names its policies, inventory and cases (from, to, port, expect). `weir test` reports a malformed test as an error instead of passing it.',
  },
  {
    prefix: 'plan',
    title: 'Change plans',
    help: '`weir plan` compares two revisions; these findings say its inputs were incomplete, so the plan may show less than the change does.',
  },
  {
    prefix: 'falco',
    title: 'Falco rules',
    help: "`weir convert falco` reads Falco rules files with Falco's own loading rules (lists, macros, append/override, exceptions, required_engine_version); a rule Falco would refuse is reported instead of converted.",
  },
  {
    prefix: 'convert',
    title: 'Conversion inputs',
    help: '`weir convert` takes Falco rules files, PodSecurityPolicies or a Pod Security Standard; other documents are skipped with a warning.',
  },
  {
    prefix: 'guardrail',
    title: 'Guardrails',
    help: 'Guardrails (kind: Guardrail) are your own CEL rules over policy documents; a guardrail that does not parse is reported on the guardrail file and not applied.',
  },
];

/** Stage codes: emitted by the loader and the compilers rather than by a lint rule. */
export const stageCodes: readonly { id: string; description: string }[] = [
  { id: 'load/apiversion-case', description: 'The `apiVersion` key is spelled with the wrong case; the API server rejects the document.' },
  {
    id: 'load/file-too-large',
    description: "A file is larger than the loader's limit; policy files this large are almost certainly not policies.",
  },
  { id: 'load/git-error', description: 'A Git revision could not be read (not a repository, or Git failed).' },
  { id: 'load/json-syntax', description: 'A JSON file (an inventory, a cluster dump) does not parse.' },
  {
    id: 'load/not-read',
    description: 'Files in a policy folder that weir does not read (other extensions); reported once per folder, as info.',
  },
  { id: 'load/invalid-utf8', description: 'A file is not valid UTF-8; policy files must be UTF-8.' },
  { id: 'load/missing-apiversion', description: 'A document has a `kind` but no `apiVersion`.' },
  { id: 'load/missing-kind', description: 'A document has no `kind`, so weir cannot tell what it is.' },
  { id: 'load/missing-path', description: 'A path given on the command line or in a test does not exist.' },
  { id: 'load/missing-revision', description: 'A Git revision given with --rev or --base does not exist.' },
  { id: 'load/not-an-object', description: 'A YAML document or list item is not a mapping with apiVersion and kind.' },
  { id: 'load/outside-repository', description: 'A path points outside the repository being read.' },
  { id: 'load/too-deep', description: "A document nests deeper than the loader's limit." },
  { id: 'load/too-many-documents', description: "A file holds more YAML documents than the loader's limit." },
  { id: 'load/unknown-apiversion', description: 'A known kind is given with an apiVersion its API group does not serve.' },
  { id: 'load/unknown-kind', description: "A document's kind is not one weir understands; it is ignored." },
  { id: 'load/unreadable', description: 'A file could not be read (permissions, I/O error).' },
  { id: 'load/yaml-alias-limit', description: "YAML aliases expand beyond the loader's limit (an alias bomb)." },
  { id: 'load/yaml-syntax', description: 'A file is not valid YAML.' },
  {
    id: 'load/yaml-warning',
    description: 'The YAML parser accepted the file but warned about it (e.g. a duplicate key or an unresolved tag).',
  },
  { id: 'inventory/bad-ip', description: 'An inventory address is not an IP address.' },
  { id: 'inventory/duplicate-ip', description: 'Two endpoints of the inventory have the same IP address.' },
  { id: 'inventory/duplicate-pod', description: 'The same pod is declared twice in the inventory.' },
  { id: 'inventory/missing-name', description: 'An inventory entry (namespace, node, pod, service, CIDR group) has no name.' },
  { id: 'network/empty-policy', description: 'A policy has nothing to enforce (no rules in any direction).' },
  { id: 'network/empty-rule-list', description: 'A rule list is null: it adds no rules and does not make the direction default-deny.' },
  { id: 'network/invalid-auth', description: 'An `authentication` mode is not one Cilium accepts.' },
  { id: 'network/invalid-cidr', description: 'A CIDR, CIDR set or except list is malformed or an except is not inside its CIDR.' },
  { id: 'network/invalid-entity', description: "An entity is not one of Cilium's entities." },
  { id: 'network/invalid-fqdn', description: 'A toFQDNs entry has neither a valid matchName nor a valid matchPattern.' },
  { id: 'network/invalid-l7', description: 'An L7 rule (http, dns, kafka) is malformed or not allowed where it is (e.g. on a deny rule).' },
  { id: 'network/invalid-port', description: 'A port, port range, protocol or ICMP type is invalid.' },
  { id: 'network/invalid-rule', description: 'A rule is not a mapping or has a shape Cilium rejects.' },
  { id: 'network/invalid-selector', description: 'A label selector is malformed (bad operator, values where none are allowed, ...).' },
  { id: 'network/invalid-service', description: 'A toServices entry is malformed.' },
  { id: 'network/missing-selector', description: 'A policy selects no endpoints: it needs endpointSelector, nodeSelector or podSelector.' },
  { id: 'network/unknown-cidr-group', description: 'A cidrGroupRef names a CIDR group the inventory does not have.' },
  {
    id: 'network/unsupported',
    description: 'A feature weir cannot enforce exactly (host policies, fromNodes, fromRequires, listeners, SNI, ...).',
  },
  { id: 'lower/ipcache-capacity', description: 'The ipcache needs more entries than its map holds.' },
  { id: 'lower/policy-map-capacity', description: 'An endpoint needs more policy map entries than its map holds.' },
  { id: 'runtime/arg-index-range', description: 'An argument index is outside 0 to 5.' },
  { id: 'runtime/bad-arg-index', description: "An `args` entry's index is not a non-negative integer." },
  { id: 'runtime/bad-arg-type', description: 'An `args` entry has no type.' },
  { id: 'runtime/bad-hook', description: 'A kprobes/tracepoints/lsmhooks/uprobes entry is not a mapping.' },
  { id: 'runtime/bad-hooks', description: 'spec.kprobes, tracepoints, lsmhooks or uprobes is not a list.' },
  { id: 'runtime/bad-list', description: 'A spec.lists entry is malformed (no name, no values, unknown type).' },
  { id: 'runtime/bad-match-arg', description: 'A matchArgs entry is malformed.' },
  { id: 'runtime/bad-namespace', description: 'A matchNamespaces entry is malformed (unknown namespace type or operator).' },
  { id: 'runtime/bad-policy-mode', description: 'The policy-mode option is neither enforce nor monitor.' },
  { id: 'runtime/bad-selector', description: 'A selector is not a mapping of match* filters.' },
  { id: 'runtime/bad-selectors', description: 'selectors is not a list.' },
  { id: 'runtime/bad-value', description: 'A filter value has the wrong type (e.g. a non-integer pid).' },
  { id: 'runtime/empty-values', description: 'An operator that needs values has none.' },
  {
    id: 'runtime/follow-forks-namespace',
    description: "matchPIDs with followForks and isNamespacePID compares the calling process's own namespace pid.",
  },
  {
    id: 'runtime/generated-list',
    description: "A list type that Tetragon fills from the node's kernel at load time; weir compiles lists from their values only.",
  },
  {
    id: 'runtime/host-wide-kill',
    description: 'A Sigkill or Signal could hit any host process or init; scope it or annotate weir.dev/allow-host-wide-kill.',
  },
  {
    id: 'runtime/max-data',
    description: 'An argument asks for maxData; weir reads at most 255 bytes of a buffer argument (warning).',
  },
  { id: 'runtime/missing-name', description: 'A TracingPolicy has no metadata.name.' },
  { id: 'runtime/missing-namespace', description: 'A TracingPolicyNamespaced has no metadata.namespace.' },
  { id: 'runtime/missing-spec', description: 'A TracingPolicy has no spec mapping.' },
  { id: 'runtime/no-hooks', description: 'A TracingPolicy has no kprobes, tracepoints, lsmhooks or uprobes: it does nothing.' },
  {
    id: 'runtime/node-capability',
    description: 'A node cannot do what the policy asks (override, LSM hooks, kprobes on kernel functions, ...).',
  },
  {
    id: 'runtime/override-not-injectable',
    description: "Override on a function the node's error-injection list does not name (and no fmod_ret route for security_* functions).",
  },
  { id: 'runtime/operator-type', description: "An operator does not fit the argument's type (a numeric comparison on a string)." },
  { id: 'runtime/return-arg-ignored', description: 'returnArg without `return: true`: the return value is not read (warning).' },
  {
    id: 'runtime/sock-tracking',
    description: 'TrackSock/UntrackSock: weir attributes socket events to the calling process; the action has no effect (warning).',
  },
  { id: 'runtime/site-collision', description: 'Two kernel-function attach points of one node hash to the same site number.' },
  { id: 'runtime/string-too-long', description: 'A string value is longer than the bytes the handler compares.' },
  {
    id: 'runtime/syscall-flag',
    description: "A hook on a syscall lacks `syscall: true`, so its arguments would not be read from the syscall's registers.",
  },
  { id: 'runtime/too-many-actions', description: 'A selector has more matchActions than Tetragon allows.' },
  { id: 'runtime/too-many-args', description: 'A hook reads more arguments than weir (and Tetragon) allow.' },
  {
    id: 'runtime/capacity',
    description:
      "A policy does not fit a node's runtime maps (hooks, policies, walk lists, prefilter, sets); the message names the full map.",
  },
  { id: 'runtime/too-many-match-args', description: 'A selector has more matchArgs than Tetragon allows.' },
  { id: 'runtime/too-many-match-binaries', description: 'A selector has more matchBinaries than Tetragon allows.' },
  { id: 'runtime/too-many-match-capabilities', description: 'A selector has more matchCapabilities than weir evaluates.' },
  { id: 'runtime/too-many-match-namespaces', description: 'A selector has more matchNamespaces than weir evaluates.' },
  { id: 'runtime/too-many-match-pids', description: 'A selector has more matchPIDs entries than weir evaluates.' },
  { id: 'runtime/too-many-selectors', description: 'A hook has more selectors than Tetragon allows.' },
  { id: 'runtime/too-many-values', description: 'An operator has more values than the handler compares.' },
  { id: 'runtime/unknown-action', description: "A matchActions action is not one of Tetragon's actions." },
  { id: 'runtime/unknown-field', description: 'A spec field TracingPolicy does not have.' },
  { id: 'runtime/unknown-hook', description: 'A hook names a syscall that is not in the x86_64 table.' },
  { id: 'runtime/unknown-list', description: 'A `list:` reference names no entry of spec.lists.' },
  { id: 'runtime/unknown-operator', description: "A matchArgs operator is not one of Tetragon's operators." },
  { id: 'runtime/unsupported-action', description: "An action weir's engine does not carry out (e.g. FollowFD, GetUrl, NotifyEnforcer)." },
  {
    id: 'runtime/unsupported-arg-type',
    description: 'An argument type weir has no reader for at that hook (fd, file, sock, ... on a syscall tracepoint; resolve: paths).',
  },
  { id: 'runtime/unsupported-hook', description: 'A hook kind weir does not compile (uprobes, loader, non-raw tracepoints, ...).' },
  {
    id: 'runtime/unsupported-operator',
    description: "A matchArgs operator weir's engine does not evaluate (FileType, CapabilitiesGained).",
  },
  { id: 'runtime/unsupported-selector', description: 'A selector feature weir does not implement (e.g. spec.hostSelector).' },
  { id: 'policytest/invalid', description: 'A PolicyTest is malformed (no cases, an inline policy of no known kind, ...).' },
  { id: 'plan/empty-inventory', description: 'No workloads were found, so connectivity is not computed.' },
  { id: 'plan/empty-path', description: 'A planned path holds no YAML file in either revision.' },
  { id: 'plan/inventory-unreadable', description: "The plan's inventory file could not be read." },
  { id: 'falco/bad-exception', description: "A rule's exceptions are malformed (fields, comps and values do not line up)." },
  { id: 'falco/bad-item', description: 'A rules file item is not a mapping with rule, macro, list or required_engine_version.' },
  { id: 'falco/bad-override', description: '`append` and `override` are combined, or `override` does not map keys to append or replace.' },
  { id: 'falco/bad-priority', description: "A rule's priority is not one of Falco's priorities." },
  { id: 'falco/broken-macro', description: 'A rule uses a macro that does not compile.' },
  { id: 'falco/engine-version', description: 'required_engine_version is malformed or newer than the Falco semantics weir follows.' },
  { id: 'falco/list-outside-parens', description: 'A list is used outside parentheses after an operator; Falco requires `(list)`.' },
  { id: 'falco/macro-cycle', description: 'A macro refers to itself, directly or through others.' },
  { id: 'falco/missing-key', description: 'A rule, macro or list lacks a key it needs (condition, items, ...).' },
  { id: 'falco/syntax', description: 'A condition does not parse.' },
  { id: 'falco/undefined-macro', description: 'A condition names a macro that is not defined.' },
  { id: 'falco/unknown-field', description: 'A condition uses a field the syscall source does not have; Falco refuses the rule.' },
  { id: 'falco/unknown-list', description: 'A list is appended to or overridden before any list of that name.' },
  { id: 'falco/unknown-macro', description: 'A macro is appended to or overridden before any macro of that name.' },
  { id: 'falco/unknown-rule', description: 'A rule is appended to, overridden or enabled before any rule of that name.' },
  { id: 'convert/not-falco', description: 'A document given to `weir convert falco` is not a Falco rules file; ignored.' },
  { id: 'convert/not-psp', description: 'A document given to `weir convert psp` is not a PodSecurityPolicy; ignored.' },
  { id: 'convert/psp-no-spec', description: 'A PodSecurityPolicy has no spec.' },
  { id: 'guardrail/invalid', description: "A Guardrail's CEL rule or condition does not parse." },
];

/** What a user-defined guardrail contributes to its rule descriptor. */
export interface GuardrailInfo {
  name: string;
  description?: string;
  file: string;
  line: number;
}

export interface CodeDescriptor {
  id: string;
  /** One line: what the code finds. */
  short: string;
  /** What it finds and why it matters. */
  full: string;
  /** What to do, as plain text and as Markdown. */
  help: { text: string; markdown: string };
  helpUri: string;
  level: Severity;
  tags: string[];
}

const sentence = (s: string) => (/[.!?]$/.test(s.trim()) ? s.trim() : `${s.trim()}.`);

/** The descriptor of any code weir can emit; unknown ids (a newer stage) still get a usable one. */
export function describeCode(id: string, guardrails: readonly GuardrailInfo[] = []): CodeDescriptor {
  const uri = `${lintRulesDoc}#${codeAnchor(id)}`;
  const rule = rules.find((r) => r.meta.id === id);
  if (rule) {
    const m = rule.meta;
    const fix = m.fixable ? ' The diagnostic carries the replacement (SARIF `fixes`).' : '';
    const inv = m.needsInventory ? ' Needs an inventory (`--inventory`, or an Inventory among the linted files).' : '';
    const text = `${sentence(m.description)} Why: ${sentence(m.rationale)}${fix}${inv}`;
    const example = m.example ? `\n\nTriggered by:\n\n\`\`\`yaml\n${m.example}\n\`\`\`` : '';
    return {
      id,
      short: sentence(m.description),
      full: `${sentence(m.description)} ${sentence(m.rationale)}`,
      help: { text, markdown: `${sentence(m.description)}\n\n**Why:** ${sentence(m.rationale)}${fix}${inv}${example}\n\n[${id}](${uri})` },
      helpUri: uri,
      level: m.severity,
      tags: ['lint', ...m.kinds],
    };
  }
  const schema = schemaRules.find((s) => s.id === id);
  if (schema) {
    const text = `${sentence(schema.description)} The document is checked against weir's JSON Schema for its kind (schemas/*.schema.json), the same structure the API server enforces; the message names the field and, for unknown or wrong-case fields, the one that was probably meant.`;
    return {
      id,
      short: sentence(schema.description),
      full: text,
      help: { text, markdown: `${text}\n\n[${id}](${uri})` },
      helpUri: uri,
      level: 'error',
      tags: ['schema'],
    };
  }
  if (id.startsWith('guardrail/') && id !== 'guardrail/invalid') {
    const name = id.slice('guardrail/'.length);
    const g = guardrails.find((x) => x.name === name);
    const short = g?.description ? sentence(g.description) : `Guardrail ${name}.`;
    const where = g ? `Defined by the Guardrail \`${name}\` in ${g.file}:${g.line}.` : `Defined by a Guardrail named \`${name}\`.`;
    const text = `${short} ${where} Guardrails are your organisation's own CEL rules over policy documents; the message says what the document does and the guardrail file says why it is not allowed.`;
    const guri = `${lintRulesDoc}#guardrails`;
    return {
      id,
      short,
      full: text,
      help: { text, markdown: `${text}\n\n[Guardrails](${guri})` },
      helpUri: guri,
      level: 'error',
      tags: ['guardrail'],
    };
  }
  const stage = stageCodes.find((c) => c.id === id);
  const area = stageAreas.find((a) => id.startsWith(`${a.prefix}/`));
  const short = stage ? stage.description : `weir check ${id}.`;
  const text = `${short}${area ? ` ${area.help}` : ''}`;
  return {
    id,
    short,
    full: text,
    help: { text, markdown: `${text}\n\n[${id}](${stage ? uri : lintRulesDoc})` },
    helpUri: stage ? uri : lintRulesDoc,
    level: 'error',
    tags: [area?.prefix ?? 'weir'],
  };
}

/** Every known code: lint rules, schema checks and stage codes (not user guardrails). */
export function allCodes(): string[] {
  return [...rules.map((r) => r.meta.id), ...schemaRules.map((s) => s.id), ...stageCodes.map((c) => c.id)];
}
