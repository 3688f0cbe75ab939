// JSON inputs (`kubectl get -o json`, the API's typed lists, pod_list.json beside the policies):
// parsed with JSON.parse, which is many times faster than a YAML parser on megabytes of cluster
// state. Positions are found only when a diagnostic asks: JSON is YAML, so the YAML parser then
// reads the same text once and answers for every node.
import { diagnostic, type Span } from '../diagnostics.js';
import { defaultLimits, parseYamlDocuments, type ParsedYaml, type ParseResult, type YamlLimits } from './yaml.js';

/** Whether text that does not parse as JSON still reads like a Kubernetes object (then it is an error, not a foreign file). */
export function mentionsKubernetes(text: string): boolean {
  return /"apiVersion"\s*:/.test(text);
}

/** Line and column of a character offset (1-based). */
function position(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    start = i + 1;
  }
  return { line, column: offset - start + 1 };
}

/** Whether JSON.parse sees `prefix` as a good start that merely ends too soon (or as complete). */
function goodPrefix(prefix: string): boolean {
  try {
    JSON.parse(prefix);
    return true;
  } catch (e) {
    const msg = (e as Error).message;
    if (/Unexpected end of JSON input|Unterminated string/.test(msg)) return true;
    // Some messages name an offset: at the very end, the text only stopped too soon.
    const at = /at position (\d+)/.exec(msg);
    return at !== null && Number(at[1]) >= prefix.length;
  }
}

/**
 * Where JSON.parse stopped: the longest prefix it reads as a good start ends there. V8 names no
 * offset in most of its messages; a binary search over prefixes finds it with a few parses.
 */
function errorOffset(text: string): number {
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (goodPrefix(text.slice(0, mid))) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Whether a parsed value nests deeper than `max` (iterative: hostile depth cannot overflow the stack). */
function deeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d > max) return true;
    for (const x of Array.isArray(v) ? v : Object.values(v)) if (x !== null && typeof x === 'object') stack.push([x, d + 1]);
  }
  return false;
}

/** Parses one JSON file as a single document; a syntax error is a diagnostic at its place. */
export function parseJsonDocuments(file: string, text: string, limits: YamlLimits = defaultLimits): ParseResult {
  let value: unknown;
  try {
    value = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (e) {
    const msg = (e as Error).message;
    const at = position(text, errorOffset(text));
    const span: Span = { file, line: at.line, column: at.column, endLine: at.line, endColumn: at.column + 1 };
    return { documents: [], diagnostics: [diagnostic('load/json-syntax', 'error', `cannot parse JSON: ${msg}`, span)] };
  }
  if (deeperThan(value, limits.maxDepth))
    return {
      documents: [],
      diagnostics: [
        diagnostic('load/too-deep', 'error', `document nests deeper than ${limits.maxDepth} levels`, {
          file,
          line: 1,
          column: 1,
          endLine: 1,
          endColumn: 1,
        }),
      ],
    };
  const end = position(text, text.trimEnd().length);
  const whole: Span = { file, line: 1, column: 1, endLine: end.line, endColumn: end.column };
  let located: ParsedYaml | undefined;
  const doc: ParsedYaml = {
    file,
    index: 0,
    value,
    span: whole,
    locate(path, opts) {
      if (path.length === 0) return whole;
      located ??= parseYamlDocuments(file, text, { ...limits, maxFileBytes: Number.MAX_SAFE_INTEGER }).documents[0];
      return located ? located.locate(path, opts) : whole;
    },
  };
  return { documents: [doc], diagnostics: [] };
}
