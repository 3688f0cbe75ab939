// Condition text that remembers where each character came from, so an offset in a (possibly appended,
// possibly folded) condition maps back to file:line:col in the rules file.
import type { Span } from '../../diagnostics.js';

interface Segment {
  /** Offset of this segment in the combined text. */
  at: number;
  length: number;
  file: string;
  /** Source offset (UTF-16 index into the file text) of each character, plus one past the end. */
  offsets?: Int32Array;
  /** Builds `offsets` on first use: most conditions are never asked for a position. */
  compute?: () => Int32Array;
}

function offsetsOf(seg: Segment): Int32Array {
  if (!seg.offsets) seg.offsets = seg.compute!();
  return seg.offsets;
}

export class MappedText {
  private constructor(
    readonly text: string,
    private readonly segments: readonly Segment[],
    private readonly lines: ReadonlyMap<string, LineIndex>,
  ) {}

  static of(text: string, file: string, offsets: Int32Array, lines: LineIndex): MappedText {
    return new MappedText(text, [{ at: 0, length: text.length, file, offsets }], new Map([[file, lines]]));
  }

  /** Like `of`, with the offsets computed when a position is first asked for. */
  static lazy(text: string, file: string, compute: () => Int32Array, lines: LineIndex): MappedText {
    return new MappedText(text, [{ at: 0, length: text.length, file, compute }], new Map([[file, lines]]));
  }

  /** Text without a source (e.g. synthesised by exception expansion): maps to `anchor`. */
  static synthetic(text: string, anchor: MappedText, anchorOffset = 0): MappedText {
    const { file, offset } = anchor.sourceOffset(anchorOffset);
    const offsets = new Int32Array(text.length + 1).fill(offset);
    return new MappedText(text, [{ at: 0, length: text.length, file, offsets }], anchor.lines);
  }

  /** Text without a source position of its own, anchored at `span` (same file as some part of this text). */
  anchoredAt(text: string, span: Span): MappedText {
    const lines = this.lines.get(span.file);
    if (!lines) return MappedText.synthetic(text, this);
    const offsets = new Int32Array(text.length + 1).fill(lines.offset(span.line, span.column));
    return new MappedText(text, [{ at: 0, length: text.length, file: span.file, offsets }], this.lines);
  }

  concat(...parts: MappedText[]): MappedText {
    let text = this.text;
    const segments = [...this.segments];
    const lines = new Map(this.lines);
    for (const p of parts) {
      for (const s of p.segments) segments.push({ ...s, at: s.at + text.length });
      for (const [k, v] of p.lines) lines.set(k, v);
      text += p.text;
    }
    return new MappedText(text, segments, lines);
  }

  private sourceOffset(i: number): { file: string; offset: number } {
    let seg = this.segments[0]!;
    for (const s of this.segments) if (s.at <= i) seg = s;
    const k = Math.min(Math.max(i - seg.at, 0), seg.length);
    const offs = offsetsOf(seg);
    return { file: seg.file, offset: offs[k] ?? offs[offs.length - 1] ?? 0 };
  }

  /** The file span of the condition range [start, end). */
  span(start: number, end: number): Span {
    const a = this.sourceOffset(start);
    const b = this.sourceOffset(Math.max(start, end));
    const la = this.lines.get(a.file)!.position(a.offset);
    const lb = b.file === a.file ? this.lines.get(b.file)!.position(b.offset) : la;
    return { file: a.file, line: la.line, column: la.column, endLine: lb.line, endColumn: lb.column };
  }
}

/** Line starts of one file, for offset → line:col. */
export class LineIndex {
  private readonly starts: number[] = [0];
  constructor(readonly text: string) {
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.starts.push(i + 1);
  }
  position(offset: number): { line: number; column: number } {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - this.starts[lo]! + 1 };
  }
  offset(line: number, column: number): number {
    return (this.starts[line - 1] ?? this.text.length) + column - 1;
  }
}

/**
 * Rebuilds the value of the YAML scalar starting at `start` with the source offset of every character.
 * Handles plain, single-quoted, double-quoted, literal (`|`) and folded (`>`) scalars. Returns undefined when
 * the rebuilt text differs from `expected` (a YAML corner we do not model); the caller then anchors
 * every character at the scalar's start, which is the documented approximation.
 */
export function mapScalar(src: string, start: number, end: number, expected: string): Int32Array | undefined {
  const c = src[start];
  let r: { text: string; offsets: number[] } | undefined;
  if (c === '"' || c === "'") r = mapQuoted(src, start, c);
  else if (c === '|' || c === '>') r = mapBlock(src, start, c);
  else r = mapPlain(src, start, end);
  if (!r || r.text !== expected) return undefined;
  r.offsets.push(r.offsets.length > 0 ? r.offsets[r.offsets.length - 1]! + 1 : start);
  return Int32Array.from(r.offsets);
}

/** Folds the lines of a flow scalar: a single break becomes a space, n+1 breaks become n newlines. */
function foldFlow(lines: { text: string; offsets: number[]; breakAt: number }[]): { text: string; offsets: number[] } {
  let text = '';
  const offsets: number[] = [];
  let pendingEmpty = 0;
  let first = true;
  let lastBreak = 0;
  for (let li = 0; li < lines.length; li++) {
    const l = lines[li]!;
    const isFirst = li === 0;
    const isLast = li === lines.length - 1;
    // Leading blanks of continuation lines and trailing blanks before a break are not content.
    let s = 0;
    let e = l.text.length;
    if (!isFirst) while (s < e && (l.text[s] === ' ' || l.text[s] === '\t')) s++;
    if (!isLast) while (e > s && (l.text[e - 1] === ' ' || l.text[e - 1] === '\t')) e--;
    if (s === e && !isFirst && !isLast) {
      pendingEmpty++;
      continue;
    }
    if (!first) {
      if (pendingEmpty > 0) for (let k = 0; k < pendingEmpty; k++) (text += '\n'), offsets.push(lastBreak);
      else (text += ' '), offsets.push(lastBreak);
    }
    pendingEmpty = 0;
    first = false;
    for (let k = s; k < e; k++) (text += l.text[k]), offsets.push(l.offsets[k]!);
    lastBreak = l.breakAt;
  }
  return { text, offsets };
}

function splitLines(src: string, from: number, to: number): { text: string; offsets: number[]; breakAt: number }[] {
  const out: { text: string; offsets: number[]; breakAt: number }[] = [];
  let cur = { text: '', offsets: [] as number[], breakAt: to };
  for (let i = from; i < to; i++) {
    if (src[i] === '\n') {
      cur.breakAt = i;
      out.push(cur);
      cur = { text: '', offsets: [], breakAt: to };
      continue;
    }
    if (src[i] === '\r' && src[i + 1] === '\n') continue;
    cur.text += src[i];
    cur.offsets.push(i);
  }
  out.push(cur);
  return out;
}

function mapPlain(src: string, start: number, end: number): { text: string; offsets: number[] } {
  // A plain scalar may span lines; comment lines cannot occur inside it.
  return foldFlow(splitLines(src, start, end));
}

function mapQuoted(src: string, start: number, q: string): { text: string; offsets: number[] } | undefined {
  // Find the closing quote, then decode escapes line by line before folding.
  let i = start + 1;
  const raw: { ch: string; off: number; escaped: boolean }[] = [];
  while (i < src.length) {
    const c = src[i]!;
    if (q === "'" && c === "'") {
      if (src[i + 1] === "'") {
        raw.push({ ch: "'", off: i, escaped: true });
        i += 2;
        continue;
      }
      break;
    }
    if (q === '"' && c === '"') break;
    if (q === '"' && c === '\\') {
      const n = src[i + 1];
      const simple: Record<string, string> = {
        n: '\n',
        t: '\t',
        '\t': '\t',
        r: '\r',
        '"': '"',
        '\\': '\\',
        '/': '/',
        ' ': ' ',
        '0': '\0',
        a: '\x07',
        b: '\b',
        e: '\x1b',
        f: '\f',
        v: '\v',
        N: '\x85',
        _: '\xa0',
        L: '\u2028',
        P: '\u2029',
      };
      if (n === '\n') {
        // An escaped line break joins the lines without a space; skip the next line's indentation.
        i += 2;
        while (src[i] === ' ' || src[i] === '\t') i++;
        continue;
      }
      if (n !== undefined && simple[n] !== undefined) {
        raw.push({ ch: simple[n], off: i, escaped: true });
        i += 2;
        continue;
      }
      const len = n === 'x' ? 2 : n === 'u' ? 4 : n === 'U' ? 8 : 0;
      if (len === 0) return undefined;
      const code = parseInt(src.slice(i + 2, i + 2 + len), 16);
      if (Number.isNaN(code)) return undefined;
      raw.push({ ch: String.fromCodePoint(code), off: i, escaped: true });
      i += 2 + len;
      continue;
    }
    raw.push({ ch: c, off: i, escaped: false });
    i++;
  }
  if (i >= src.length) return undefined;
  // Split on unescaped line breaks and fold as a flow scalar.
  const lines: { text: string; offsets: number[]; breakAt: number }[] = [];
  let cur = { text: '', offsets: [] as number[], breakAt: i };
  for (const r of raw) {
    if (!r.escaped && r.ch === '\n') {
      cur.breakAt = r.off;
      lines.push(cur);
      cur = { text: '', offsets: [], breakAt: i };
      continue;
    }
    if (!r.escaped && r.ch === '\r') continue;
    cur.text += r.ch;
    cur.offsets.push(r.off);
  }
  lines.push(cur);
  // Escaped blanks are content: foldFlow trims only literal blanks, which is what we have here except for
  // escaped ones at line edges (rare); the equality check in mapScalar catches any difference.
  return foldFlow(lines);
}

function mapBlock(src: string, start: number, style: string): { text: string; offsets: number[] } | undefined {
  const headerEnd = src.indexOf('\n', start);
  if (headerEnd < 0) return { text: '', offsets: [] };
  const header = src
    .slice(start + 1, headerEnd)
    .replace(/\s+#.*$/, '')
    .trim();
  const chomp = header.includes('-') ? 'strip' : header.includes('+') ? 'keep' : 'clip';
  const explicit = /[1-9]/.exec(header);
  // The parent indentation is the column of the line holding the header's key.
  const lineStart = src.lastIndexOf('\n', start) + 1;
  const parentIndent = /^ */.exec(src.slice(lineStart))![0].length;
  let indent = explicit ? parentIndent + Number(explicit[0]) : -1;
  const lines: { text: string; offsets: number[] }[] = [];
  let i = headerEnd + 1;
  while (i <= src.length) {
    let nl = src.indexOf('\n', i);
    if (nl < 0) nl = src.length;
    const line = src.slice(i, nl).replace(/\r$/, '');
    const lead = /^ */.exec(line)![0].length;
    const empty = line.trim() === '';
    if (!empty) {
      if (indent < 0) {
        if (lead <= parentIndent) break;
        indent = lead;
      }
      if (lead < indent) break;
    }
    const from = empty ? Math.min(line.length, indent < 0 ? line.length : indent) : indent;
    const offs: number[] = [];
    for (let k = from; k < line.length; k++) offs.push(i + k);
    lines.push({ text: line.slice(from), offsets: offs });
    if (nl >= src.length) break;
    i = nl + 1;
  }
  // Trailing empty lines belong to chomping, not content.
  let last = lines.length;
  while (last > 0 && lines[last - 1]!.text.trim() === '') last--;
  const body = lines.slice(0, last);
  let text = '';
  const offsets: number[] = [];
  const breakOffset = (li: number) => {
    const l = body[li]!;
    return l.offsets.length > 0 ? l.offsets[l.offsets.length - 1]! + 1 : 0;
  };
  for (let li = 0; li < body.length; li++) {
    const l = body[li]!;
    if (li > 0) {
      const prev = body[li - 1]!;
      let sep = '\n';
      if (style === '>') {
        // Folding joins two adjacent non-empty lines that are not more-indented.
        const prevNormal = prev.text !== '' && !/^[ \t]/.test(prev.text);
        const curNormal = l.text !== '' && !/^[ \t]/.test(l.text);
        if (prevNormal && curNormal) sep = ' ';
        else if (prev.text === '' || l.text === '') {
          // An empty line between normal lines replaces the folded break.
          sep = '';
          if (l.text !== '' || li === body.length) sep = '';
          // Count handled by emitting '\n' for each empty line below.
          if (l.text === '') sep = '\n';
          else sep = prevWasEmptyAfterNormal(body, li) ? '' : '\n';
          if (l.text !== '' && /^[ \t]/.test(l.text)) sep = '\n';
        }
      }
      text += sep;
      for (let k = 0; k < sep.length; k++) offsets.push(breakOffset(li - 1));
    }
    for (let k = 0; k < l.text.length; k++) (text += l.text[k]), offsets.push(l.offsets[k]!);
  }
  if (body.length > 0 && chomp !== 'strip') {
    text += '\n';
    offsets.push(breakOffset(body.length - 1));
    if (chomp === 'keep') for (let k = last; k < lines.length; k++) (text += '\n'), offsets.push(breakOffset(body.length - 1));
  }
  return { text, offsets };
}

// In a folded scalar, `a\n\nb` is `a\nb`: the first break after a normal line is eaten by the empty line.
function prevWasEmptyAfterNormal(body: { text: string }[], li: number): boolean {
  let k = li - 1;
  while (k >= 0 && body[k]!.text === '') k--;
  return k >= 0 && !/^[ \t]/.test(body[k]!.text) && k < li - 1;
}
