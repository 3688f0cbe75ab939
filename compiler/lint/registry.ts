// Every lint rule, in documentation order. Adding a rule: a module under rules/, a line here,
// a table test under test/lint/rules/, then `npm run docs:lint-rules`.
import type { LintRule } from './rule.js';
import { authRenamed } from './rules/auth-renamed.js';
import { cidr } from './rules/cidr.js';
import { cidrCoversPods } from './rules/cidr-covers-pods.js';
import { descriptionPlacement } from './rules/description-placement.js';
import { fqdnNeedsDns } from './rules/fqdn-needs-dns.js';
import { l7Protocol } from './rules/l7-protocol.js';
import { labelSourceSeparator } from './rules/label-source-separator.js';
import { nullSection } from './rules/null-section.js';
import { operatorCase } from './rules/operator-case.js';
import { portRange } from './rules/port-range.js';
import { requiresRemoved } from './rules/requires-removed.js';
import { reservedLabel } from './rules/reserved-label.js';
import { selectorMisplacedLabel } from './rules/selector-misplaced-label.js';
import { selectorNoMatch } from './rules/selector-no-match.js';
import { namedPortUndeclared } from './rules/named-port-undeclared.js';
import { ipBlockSplitsPod } from './rules/ipblock-splits-pod.js';
import { ciliumPeerKinds } from './rules/cilium-peer-kinds.js';
import { ciliumSanitizeRules } from './rules/cilium-sanitize.js';
import { tetragonMonitorAction } from './rules/tetragon-monitor-action.js';
import { tetragonOperatorType } from './rules/tetragon-operator-type.js';
import { tetragonRemoved } from './rules/tetragon-removed.js';
import { tetragonAction } from './rules/tetragon-action.js';
import { tetragonArgIndex } from './rules/tetragon-arg-index.js';
import { tetragonSelectorLimits } from './rules/tetragon-limits.js';

export const rules: readonly LintRule[] = [
  operatorCase,
  labelSourceSeparator,
  reservedLabel,
  descriptionPlacement,
  requiresRemoved,
  authRenamed,
  selectorMisplacedLabel,
  nullSection,
  l7Protocol,
  fqdnNeedsDns,
  portRange,
  ciliumPeerKinds,
  ...ciliumSanitizeRules,
  cidr,
  cidrCoversPods,
  selectorNoMatch,
  namedPortUndeclared,
  ipBlockSplitsPod,
  tetragonSelectorLimits,
  tetragonArgIndex,
  tetragonAction,
  tetragonRemoved,
  tetragonOperatorType,
  tetragonMonitorAction,
];

export function ruleById(id: string): LintRule | undefined {
  return rules.find((r) => r.meta.id === id);
}
