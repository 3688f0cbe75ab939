// The Falco converter as one pure function over loaded rules files.
import { sortDiagnostics, type Diagnostic } from '../../diagnostics.js';
import type { FalcoRulesDocument } from '../../load/index.js';
import { convertRules, type ConversionResult, type ConvertOptions } from './convert.js';
import { collectRules, compileRules, type FalcoRuleset } from './rules.js';

export type { ConversionResult, ConvertOptions, ConvertProfile, EnforceSpec, RuleReport, Verdict, ConvertedPolicy } from './convert.js';
export { convertProfiles, fileOpenHook } from './convert.js';
export { parseCondition } from './parser.js';
export { printCondition } from './printer.js';

export interface FalcoConversion extends ConversionResult {
  ruleset: FalcoRuleset;
  diagnostics: Diagnostic[];
}

/** Collects, compiles and converts rules files in the order given. */
export function convertFalco(
  docs: readonly FalcoRulesDocument[],
  sources: ReadonlyMap<string, string>,
  opts: ConvertOptions = {},
): FalcoConversion {
  const ruleset = collectRules(docs, sources);
  const compiled = compileRules(ruleset);
  const result = convertRules(compiled.rules, opts);
  return { ...result, ruleset, diagnostics: sortDiagnostics([...ruleset.diagnostics, ...compiled.diagnostics]) };
}
