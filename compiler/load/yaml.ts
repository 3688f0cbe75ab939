// YAML parsing with exact positions and the limits that keep hostile input harmless.
import { createRequire } from 'node:module';
import type { Document, Node as YamlNode } from 'yaml';

// The `yaml` package is loaded on first use: most files take the fast path (./fastyaml.ts), and
// loading it costs a CLI run tens of milliseconds it usually does not need.
let yamlLib: typeof import('yaml') | undefined;
const Y = (): typeof import('yaml') => (yamlLib ??= createRequire(import.meta.url)('yaml') as typeof import('yaml'));
import { diagnostic, type Diagnostic, type Span } from '../diagnostics.js';
import { FastParser, fastLocate, type FastNode } from './fastyaml.js';

export interface YamlLimits {
  /** Largest file read, in bytes. */
  maxFileBytes: number;
  /** Largest number of alias nodes resolved per document (billion-laughs guard). */
  maxAliasCount: number;
  /** Deepest nesting of maps and sequences. */
  maxDepth: number;
  /** Most documents in one file. */
  maxDocuments: number;
}

export const defaultLimits: YamlLimits = {
  maxFileBytes: 8 * 1024 * 1024,
  maxAliasCount: 100,
  maxDepth: 64,
  maxDocuments: 10_000,
};

/** A path into a document's value: map keys and sequence indexes. */
export type NodePath = readonly (string | number)[];

/** One parsed YAML document with the means to locate any of its nodes. */
export interface ParsedYaml {
  file: string;
  index: number;
  value: unknown;
  span: Span;
  /** The span of the node at `path`; with `key`, the span of its map key. Falls back to the nearest existing ancestor. */
  locate(path: NodePath, opts?: { key?: boolean }): Span;
}

export interface ParseResult {
  documents: ParsedYaml[];
  diagnostics: Diagnostic[];
}

/** Decodes bytes as UTF-8, reporting the line and column of the first invalid sequence. */
/** One decoder for every file (a non-streaming decode keeps no state; building one per file costs more than decoding a small file). */
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

export function decodeUtf8(file: string, bytes: Uint8Array): { text?: string; diagnostic?: Diagnostic } {
  try {
    return { text: utf8.decode(bytes) };
  } catch {
    const bad = firstInvalidUtf8(bytes);
    let line = 1;
    let col = 1;
    for (let i = 0; i < bad; i++) {
      if (bytes[i] === 0x0a) {
        line++;
        col = 1;
      } else if ((bytes[i]! & 0xc0) !== 0x80) col++;
    }
    return {
      diagnostic: diagnostic(
        'load/invalid-utf8',
        'error',
        `invalid UTF-8 byte 0x${bytes[bad]?.toString(16).padStart(2, '0')} at byte offset ${bad}; policy files must be UTF-8`,
        {
          file,
          line,
          column: col,
          endLine: line,
          endColumn: col + 1,
        },
      ),
    };
  }
}

function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    let n = 0;
    if (c < 0x80) n = 0;
    else if (c >= 0xc2 && c <= 0xdf) n = 1;
    else if (c >= 0xe0 && c <= 0xef) n = 2;
    else if (c >= 0xf0 && c <= 0xf4) n = 3;
    else return i;
    if (i + n >= b.length) return i;
    for (let k = 1; k <= n; k++) if (((b[i + k] ?? 0) & 0xc0) !== 0x80) return i;
    i += n + 1;
  }
  return Math.max(0, b.length - 1);
}

/** Line start offsets, for offset → line/column by binary search. */
function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

/** The fast path (compiler/load/fastyaml.ts), or undefined when the text needs the full parser. */
function parseFast(file: string, text: string, limits: YamlLimits): ParseResult | undefined {
  const docs = new FastParser(text, limits.maxDepth, false).parse();
  if (!docs || docs.length > limits.maxDocuments) return undefined;
  const starts = lineStarts(text);
  const pos = (off: number): [number, number] => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= off) lo = mid;
      else hi = mid - 1;
    }
    return [lo + 1, off - starts[lo]! + 1];
  };
  const spanOf = (a: number, b: number): Span => {
    const [line, column] = pos(a);
    const [endLine, endColumn] = pos(Math.max(a, b));
    return { file, line, column, endLine, endColumn };
  };
  // Keep only the values: a document's node tree (its positions) is rebuilt from its own text on
  // its first locate() below the root, which only findings call. Holding 10,000 trees costs more in
  // GC than parsing again the few documents that have findings.
  const tree = (start: number, end: number) => {
    const [d] = new FastParser(text.slice(start, end), limits.maxDepth).parse()!;
    return d!.root!;
  };
  const documents: ParsedYaml[] = [];
  docs.forEach((d, index) => {
    const root = d.root;
    if (!root) return;
    // The root's own place is known without the tree (the loader asks for it for every document).
    const { start, end } = root;
    const rootIsCollection = typeof root.value === 'object' && root.value !== null;
    let own: FastNode | undefined;
    documents.push({
      file,
      index,
      value: root.value,
      span: spanOf(start, end),
      locate(path, opts) {
        if (path.length === 0) return opts?.key || !rootIsCollection ? spanOf(start, end) : spanOf(start, start);
        own ??= tree(start, end);
        const [s, e] = fastLocate(own, path, opts?.key ?? false);
        return spanOf(start + s, start + e);
      },
    });
  });
  return { documents, diagnostics: [] };
}

const stackOverflow = (e: unknown) =>
  e instanceof RangeError || /Maximum call stack size exceeded/.test(String((e as Error | undefined)?.message ?? ''));

/** Parses every document of a YAML stream. Errors become diagnostics; good documents are still returned. */
export function parseYamlDocuments(
  file: string,
  text: string,
  limits: YamlLimits = defaultLimits,
  opts: { fast?: boolean } = {},
): ParseResult {
  const tooDeep = (span: Span) => diagnostic('load/too-deep', 'error', `document nests deeper than ${limits.maxDepth} levels`, span);
  if (opts.fast !== false) {
    const fast = parseFast(file, text, limits);
    if (fast) return fast;
  }
  const lineCounter = new (Y().LineCounter)();
  const diagnostics: Diagnostic[] = [];
  const documents: ParsedYaml[] = [];
  const spanOf = (start: number, end: number): Span => {
    const a = lineCounter.linePos(start);
    const b = lineCounter.linePos(Math.max(start, end));
    return { file, line: a.line, column: a.col, endLine: b.line, endColumn: b.col };
  };
  let docs: Document.Parsed[];
  try {
    docs = Y().parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true, strict: true }) as Document.Parsed[];
  } catch (e) {
    diagnostics.push(
      stackOverflow(e)
        ? tooDeep(spanOf(0, 0))
        : diagnostic('load/yaml-syntax', 'error', `cannot parse YAML: ${(e as Error).message}`, spanOf(0, 0)),
    );
    return { documents, diagnostics };
  }
  if (!Array.isArray(docs)) docs = [docs as unknown as Document.Parsed];
  if (docs.length > limits.maxDocuments) {
    diagnostics.push(
      diagnostic(
        'load/too-many-documents',
        'error',
        `file has ${docs.length} YAML documents; the limit is ${limits.maxDocuments}`,
        spanOf(0, 0),
      ),
    );
    docs = docs.slice(0, limits.maxDocuments);
  }
  docs.forEach((doc, index) => {
    if (doc.errors.length > 0) {
      for (const err of doc.errors) {
        const [s, e] = err.pos;
        // The parser recurses per level: a hostile depth ends its stack, which is the depth limit, not a syntax error.
        diagnostics.push(
          stackOverflow(err)
            ? tooDeep(spanOf(s, e))
            : diagnostic('load/yaml-syntax', 'error', `YAML syntax error: ${firstLine(err.message)}`, spanOf(s, e)),
        );
      }
      return;
    }
    for (const w of doc.warnings) {
      const [s, e] = w.pos;
      diagnostics.push(diagnostic('load/yaml-warning', 'warning', firstLine(w.message), spanOf(s, e)));
    }
    // An empty document (`---` followed by `---`, or only comments) is nothing, not a null policy.
    if (doc.contents === null || (Y().isScalar(doc.contents) && doc.contents.value === null && doc.contents.source === '')) return;
    const depth = maxDepth(doc.contents as YamlNode, limits.maxDepth + 1);
    const range = (doc.contents as YamlNode).range ?? [0, 0, 0];
    if (depth > limits.maxDepth) {
      diagnostics.push(tooDeep(spanOf(range[0], range[1])));
      return;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: limits.maxAliasCount });
    } catch (e) {
      const msg = (e as Error).message;
      const rule = /alias/i.test(msg) ? 'load/yaml-alias-limit' : 'load/yaml-syntax';
      const text =
        rule === 'load/yaml-alias-limit'
          ? `YAML aliases expand beyond the limit of ${limits.maxAliasCount} (alias bomb?)`
          : `cannot convert YAML: ${firstLine(msg)}`;
      diagnostics.push(diagnostic(rule, 'error', text, spanOf(range[0], range[1])));
      return;
    }
    const root = doc.contents as YamlNode;
    documents.push({
      file,
      index,
      value,
      span: spanOf(range[0], range[1]),
      locate(path, opts) {
        const [s, e] = locateRange(root, path, opts?.key ?? false);
        return spanOf(s, e);
      },
    });
  });
  return { documents, diagnostics };
}

function firstLine(s: string): string {
  const i = s.indexOf('\n');
  return i < 0 ? s : s.slice(0, i);
}

function maxDepth(node: YamlNode | null, cap: number): number {
  // Iterative so a hostile depth cannot overflow our stack.
  let best = 0;
  const stack: [unknown, number][] = [[node, 1]];
  while (stack.length > 0) {
    const [n, d] = stack.pop()!;
    if (d > best) best = d;
    if (best >= cap) return best;
    if (Y().isMap(n)) for (const p of n.items) stack.push([p.value, d + 1]);
    else if (Y().isSeq(n)) for (const it of n.items) stack.push([it, d + 1]);
  }
  return best;
}

function locateRange(root: YamlNode, path: NodePath, key: boolean): [number, number] {
  let node: unknown = root;
  let keyNode: unknown;
  for (const seg of path) {
    if (Y().isMap(node)) {
      const pair = node.items.find((p) => Y().isPair(p) && (Y().isScalar(p.key) ? String(p.key.value) === String(seg) : false));
      if (!pair) break;
      keyNode = pair.key;
      node = pair.value ?? pair.key;
    } else if (Y().isSeq(node) && typeof seg === 'number' && seg < node.items.length) {
      keyNode = undefined;
      node = node.items[seg];
    } else {
      break;
    }
  }
  const target = (key && keyNode ? keyNode : node) as YamlNode | undefined;
  const r = target?.range;
  if (!r) return [0, 0];
  // A block collection's range runs to the next sibling; report its first line only.
  if ((Y().isMap(target) || Y().isSeq(target)) && !key) return [r[0], r[0]];
  return [r[0], r[1]];
}
