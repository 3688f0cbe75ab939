// Where the upstream corpus vendored in test/corpus/ lives (its README.md says what each folder holds).
import * as path from 'node:path';

export const corpusDir = path.resolve(import.meta.dirname, 'corpus');
/** cilium/cilium examples/policies. */
export const ciliumCorpus = path.join(corpusDir, 'cilium');
/** cilium/tetragon examples/tracingpolicy. */
export const tetragonCorpus = path.join(corpusDir, 'tetragon');
/** falcosecurity/rules rules/. */
export const falcoCorpus = path.join(corpusDir, 'falco');
/** The Falco rules files: stable, incubating, sandbox. */
export const falcoRuleFiles = ['falco_rules.yaml', 'falco-incubating_rules.yaml', 'falco-sandbox_rules.yaml'] as const;
