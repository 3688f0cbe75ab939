// A fast path for the YAML that policy repositories actually contain: block mappings and
// sequences, single-line flow collections, plain and quoted single-line scalars, comments and
// `---` separators. It produces exactly what the `yaml` package produces (values and node
// ranges; test/load/fastyaml.test.ts checks both over the corpus and random documents) at several
// times its speed, and gives up (returns undefined) on anything else (anchors, tags, block or
// multi-line scalars, escapes, odd numbers, duplicate keys, tabs), so the caller falls back to
// the full parser, which also produces every syntax diagnostic.

/** A parsed node: its value and the offsets the `yaml` package would give it. */
export interface FastNode {
  value: unknown;
  start: number;
  /** End of the value (yaml's range[1]). */
  end: number;
  /** A key with no value: yaml ends its parent collections at this value. */
  isEmptyNull?: boolean;
  endsWithEmpty?: boolean;
  /** The range of this node's key, when it is a map value. */
  keyStart?: number;
  keyEnd?: number;
  /** Map values by key (each carrying its key's range); sequence items. */
  entries?: Record<string, FastNode>;
  items?: FastNode[];
}

export interface FastDocument {
  /** Undefined for an empty document (yaml still counts it). */
  root?: FastNode;
}

class GiveUp extends Error {}
const hasOwn = Object.prototype.hasOwnProperty;
const giveUp = (): never => {
  throw new GiveUp();
};

interface Line {
  /** Offset of the line's first character. */
  start: number;
  /** Offset just past the line's content (before `\n`). */
  end: number;
  /** Column (0-based) of the first content character, or -1 for blank/comment-only lines. */
  indent: number;
  /** Column of a comment-only line's `#` (-1 otherwise). */
  comment: number;
  /** Index in the document's unfiltered lines. */
  raw: number;
}

const nullRe = /^(?:~|null|Null|NULL)$/;
const boolRe = /^(?:true|True|TRUE|false|False|FALSE)$/;
const intRe = /^[-+]?[0-9]+$/;
const floatRe = /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)(?:[eE][-+]?[0-9]+)?$|^[-+]?[0-9]+[eE][-+]?[0-9]+$/;

/** The core-schema type of a plain scalar, or give up where yaml's rules are subtle. */
function plainValue(s: string): unknown {
  const c0 = s.charCodeAt(0);
  // Most plain scalars are names: a letter other than the first letters of null, true and false.
  if (((c0 >= 97 && c0 <= 122) || (c0 >= 65 && c0 <= 90)) && c0 !== 110 && c0 !== 78 && c0 !== 116 && c0 !== 84 && c0 !== 102 && c0 !== 70)
    return s;
  if (s === '' || nullRe.test(s)) return null;
  if (boolRe.test(s)) return s[0] === 't' || s[0] === 'T';
  const c = s.charCodeAt(0);
  // digits, '+', '-', '.': numbers and their look-alikes
  if ((c >= 48 && c <= 57) || c === 43 || c === 45 || c === 46) {
    if (intRe.test(s)) {
      const n = Number(s);
      if (!Number.isSafeInteger(n)) giveUp();
      if (s.length > 1 && /^[-+]?0[0-9]/.test(s)) giveUp(); // leading zeros: leave to yaml
      return n;
    }
    if (floatRe.test(s)) return Number(s);
    if (/^[-+]?\.(?:inf|Inf|INF|nan|NaN|NAN)$|^0[xo]/.test(s)) giveUp();
    if (c === 45 && (s.length === 1 || s[1] === ' ')) giveUp();
  }
  return s;
}

export class FastParser {
  private lines: Line[] = [];
  private raw: Line[] = [];
  private i = 0;
  private depth = 0;

  /** Cursor, line end, and the last value's place while a flow collection is parsed. */
  private fk = 0;
  private fEnd = 0;
  private fStart = 0;
  private fStop = 0;
  /** With positions: the node of the last flow value. */
  private fNode: FastNode | undefined;

  /**
   * @param positions keep every node's place (`entries`, `items`) for fastLocate; without, only
   * values and each document root's range are built, which is what loading needs (a document's
   * tree is parsed again, with positions, on its first locate below the root).
   */
  constructor(
    private readonly text: string,
    private readonly maxDepth: number,
    private readonly positions = true,
  ) {}

  /** Documents of the stream, or undefined when the text needs the full parser. */
  parse(): FastDocument[] | undefined {
    try {
      return this.parseStream();
    } catch (e) {
      if (e instanceof GiveUp) return undefined;
      throw e;
    }
  }

  private parseStream(): FastDocument[] {
    const t = this.text;
    if (t.includes('\t') || t.includes('\r') || t.charCodeAt(0) === 0xfeff) giveUp();
    // Split into documents at `---` lines.
    const docs: FastDocument[] = [];
    let lines: Line[] = [];
    let pos = 0;
    let markers = 0;
    // A section before the first `---` with only comments is not a document; any other section is one.
    const flush = (atMarker: boolean) => {
      if (lines.some((l) => l.indent >= 0)) docs.push(this.parseDocument(lines));
      else if (!(atMarker && markers === 0)) docs.push({});
      lines = [];
    };
    while (pos <= t.length) {
      let nl = t.indexOf('\n', pos);
      if (nl < 0) nl = t.length;
      if (pos === t.length) break;
      // Looked at in place: a substring per line would be garbage for every line of a large file.
      const c0 = t.charCodeAt(pos);
      const len = nl - pos;
      if (c0 === 45 /* - */ && t.startsWith('---', pos) && (len === 3 || t.charCodeAt(pos + 3) === 32)) {
        if (len > 3 && !/^---\s*(#.*)?$/.test(t.slice(pos, nl))) giveUp(); // content after the marker
        flush(true);
        markers++;
      } else if (c0 === 37 /* % */ || (c0 === 46 && t.startsWith('...', pos))) giveUp();
      else {
        let k = 0;
        while (k < len && t.charCodeAt(pos + k) === 32) k++;
        const hash = k < len && t.charCodeAt(pos + k) === 35;
        lines.push({ start: pos, end: nl, indent: k === len || hash ? -1 : k, comment: hash ? k : -1, raw: lines.length });
      }
      pos = nl + 1;
    }
    if (markers > 0 || lines.some((l) => l.indent >= 0)) flush(false);
    return docs;
  }

  private parseDocument(lines: Line[]): FastDocument {
    this.raw = lines;
    this.lines = lines.filter((l) => l.indent >= 0);
    this.i = 0;
    this.depth = 0;
    const first = this.lines[0]!;
    if (first.indent !== 0) giveUp();
    const root = this.parseNode(0);
    if (this.i < this.lines.length) giveUp(); // content left at a shallower indentation
    return { root };
  }

  private content(l: Line): string {
    return this.text.slice(l.start + l.indent, l.end);
  }

  private enter(): void {
    if (++this.depth >= this.maxDepth) giveUp(); // yaml counts leaves as a level too
  }

  /** A node starting on the current line at its indentation. */
  private parseNode(indent: number): FastNode {
    const l = this.lines[this.i]!;
    const c = this.content(l);
    if (c[0] === '-' && (c.length === 1 || c[1] === ' ')) return this.parseSeq(l.indent);
    if (this.keyEnd(l) >= 0) return this.parseMap(l.indent);
    // a lone scalar or flow collection on its own line(s)
    const node = this.inlineValue(l.start + l.indent, l.end, indent);
    this.i++;
    return node;
  }

  /** Offset of the `:` ending the key at the start of the line's content, or -1. */
  private keyEnd(l: Line): number {
    const t = this.text;
    const s = l.start + l.indent;
    const ch = t[s];
    if (ch === '"' || ch === "'") {
      const close = this.quoteEnd(s, l.end);
      if (t[close] === ':' && (close + 1 === l.end || t[close + 1] === ' ')) return close;
      return -1;
    }
    // A flow collection is a value; a `{a: 1}: x` complex key fails later (rest of line not a comment).
    if (ch === '[' || ch === '{') return -1;
    if (
      ch === '&' ||
      ch === '*' ||
      ch === '!' ||
      ch === '|' ||
      ch === '>' ||
      ch === '?' ||
      ch === '@' ||
      ch === '`' ||
      ch === '%' ||
      ch === ',' ||
      ch === ']' ||
      ch === '}' ||
      ch === '#'
    )
      giveUp();
    for (let k = s; k < l.end; k++) {
      const x = t.charCodeAt(k);
      if (x === 58 /* : */ && (k + 1 === l.end || t.charCodeAt(k + 1) === 32)) return k;
      if (x === 35 /* # */ && k > s && t.charCodeAt(k - 1) === 32) return -1;
    }
    return -1;
  }

  /** Offset just past the closing quote of a quoted scalar starting at `s`. */
  private quoteEnd(s: number, limit: number): number {
    const t = this.text;
    const q = t[s];
    let k = s + 1;
    while (k < limit) {
      if (t[k] === q) {
        if (q === "'" && t[k + 1] === "'") {
          k += 2;
          continue;
        }
        return k + 1;
      }
      if (q === '"' && t[k] === '\\') giveUp();
      k++;
    }
    return giveUp(); // unterminated on this line: multi-line quoted scalar
  }

  private quoted(s: number, e: number): string {
    const body = this.text.slice(s + 1, e - 1);
    return this.text[s] === "'" ? body.replace(/''/g, "'") : body;
  }

  private parseMap(indent: number): FastNode {
    this.enter();
    const t = this.text;
    const entries = this.positions ? (Object.create(null) as Record<string, FastNode>) : undefined;
    const value: Record<string, unknown> = {};
    const start = this.lines[this.i]!.start + indent;
    let last: FastNode | undefined;
    while (this.i < this.lines.length) {
      const l = this.lines[this.i]!;
      if (l.indent !== indent) {
        if (l.indent > indent) giveUp(); // over-indented continuation: a multi-line scalar
        break;
      }
      if (this.isSeqLine(l)) giveUp(); // `k: v` then `- x` at the same indentation is an error for yaml
      const colon = this.keyEnd(l);
      if (colon < 0) giveUp();
      const ks = l.start + l.indent;
      const ch = t[ks];
      let key: string;
      let keyEnd: number;
      if (ch === '"' || ch === "'") {
        keyEnd = this.quoteEnd(ks, l.end);
        key = this.quoted(ks, keyEnd);
      } else {
        let ke = colon;
        while (ke > ks && t.charCodeAt(ke - 1) === 32) ke--;
        keyEnd = ke;
        const raw = t.slice(ks, ke);
        const v = plainValue(raw);
        if (typeof v !== 'string') giveUp(); // non-string keys: let yaml decide
        key = raw;
      }
      if (hasOwn.call(value, key) || key === '__proto__' || key === '<<') giveUp();
      // the value: the rest of the line, or the following more-indented lines
      let vs = colon + 1;
      while (vs < l.end && t.charCodeAt(vs) === 32) vs++;
      let node: FastNode;
      if (vs >= l.end || t[vs] === '#') {
        this.i++;
        const next = this.lines[this.i];
        if (next && next.indent > indent) node = this.parseNode(next.indent);
        else if (next && next.indent === indent && this.isSeqLine(next)) node = this.parseSeq(indent);
        else node = { value: null, start: colon + 1, end: colon + 1, isEmptyNull: true };
      } else {
        node = this.inlineValue(vs, l.end, indent);
        this.i++;
      }
      if (entries) {
        node.keyStart = ks;
        node.keyEnd = keyEnd;
        entries[key] = node;
      }
      value[key] = node.value;
      last = node;
    }
    this.depth--;
    const end = this.collectionEnd(last);
    const node: FastNode = { value, start, end, endsWithEmpty: Boolean(last && (last.isEmptyNull || last.endsWithEmpty)) };
    if (entries) node.entries = entries;
    return node;
  }

  private isSeqLine(l: Line): boolean {
    const t = this.text;
    const s = l.start + l.indent;
    return t[s] === '-' && (s + 1 === l.end || t[s + 1] === ' ');
  }

  /**
   * End offset of a block collection that just ended, as yaml computes it: the end of a last value
   * that is an empty null, else past the newline of its last line. Where comment lines follow the
   * collection, yaml's attribution of them to collection ranges is intricate: hand over.
   */
  private collectionEnd(last: FastNode | undefined): number {
    const l = this.lines[this.i - 1]!;
    for (let r = l.raw + 1; r < this.raw.length; r++) {
      const x = this.raw[r]!;
      if (x.indent >= 0) break;
      if (x.comment >= 0) giveUp();
    }
    if (last && (last.isEmptyNull || last.endsWithEmpty)) return last.end;
    return Math.min(l.end + 1, this.text.length);
  }

  private parseSeq(indent: number): FastNode {
    this.enter();
    const items: FastNode[] = [];
    const start = this.lines[this.i]!.start + indent;
    while (this.i < this.lines.length) {
      const l = this.lines[this.i]!;
      if (l.indent !== indent || !this.isSeqLine(l)) {
        if (l.indent > indent) giveUp();
        break;
      }
      let cs = l.start + l.indent + 1;
      while (cs < l.end && this.text.charCodeAt(cs) === 32) cs++;
      if (cs >= l.end || this.text[cs] === '#') {
        this.i++;
        const next = this.lines[this.i];
        if (next && next.indent > indent) items.push(this.parseNode(next.indent));
        else giveUp(); // `-` with nothing: yaml's null item range is subtle
      } else {
        // The item's content starts mid-line: treat that column as the line's indentation.
        const col = cs - l.start;
        l.indent = col; // this parse's own line record (the raw list only asks whether it has content)
        items.push(this.parseNode(col));
      }
    }
    this.depth--;
    const last = items[items.length - 1];
    const node: FastNode = {
      value: items.map((n) => n.value),
      start,
      end: this.collectionEnd(last),
      endsWithEmpty: Boolean(last && (last.isEmptyNull || last.endsWithEmpty)),
    };
    if (this.positions) node.items = items;
    return node;
  }

  /** A value that fits on the rest of one line: flow collection, quoted or plain scalar. */
  private inlineValue(s: number, lineEnd: number, _indent: number): FastNode {
    const t = this.text;
    const ch = t[s];
    if (ch === '{' || ch === '[') {
      const r = this.flow(s, lineEnd);
      this.restIsComment(r.end, lineEnd);
      return r;
    }
    if (ch === '"' || ch === "'") {
      const e = this.quoteEnd(s, lineEnd);
      this.restIsComment(e, lineEnd);
      return { value: this.quoted(s, e), start: s, end: e };
    }
    if (
      ch === '&' ||
      ch === '*' ||
      ch === '!' ||
      ch === '|' ||
      ch === '>' ||
      ch === '%' ||
      ch === '@' ||
      ch === '`' ||
      ch === '?' ||
      ch === ',' ||
      ch === ']' ||
      ch === '}'
    )
      giveUp();
    let e = lineEnd;
    for (let k = s + 1; k < lineEnd; k++)
      if (t.charCodeAt(k) === 35 /* # */ && t.charCodeAt(k - 1) === 32) {
        e = k - 1;
        break;
      }
    while (e > s && t.charCodeAt(e - 1) === 32) e--;
    const raw = t.slice(s, e);
    if (raw.includes(': ') || raw.endsWith(':')) giveUp(); // a second mapping on one line is an error for yaml
    return { value: plainValue(raw), start: s, end: e };
  }

  /**
   * Short plain scalars (namespaces, label values, protocols, port names) repeat across the
   * entries of a large flow-style list such as an inventory's pods: one string each keeps the
   * parsed values smaller for the garbage collector, which copies every live object while a
   * large file is parsed.
   */
  private readonly interned = new Map<string, string>();

  private intern(start: number, end: number): string {
    const s = this.text.slice(start, end);
    if (end - start > 16) return s;
    const known = this.interned.get(s);
    if (known !== undefined) return known;
    if (this.interned.size < 65536) this.interned.set(s, s);
    return s;
  }

  private restIsComment(k: number, lineEnd: number): void {
    const t = this.text;
    while (k < lineEnd && t.charCodeAt(k) === 32) k++;
    if (k < lineEnd && t[k] !== '#') giveUp();
    if (k < lineEnd && t.charCodeAt(k - 1) !== 32) giveUp();
  }

  /** A flow collection closed on the same line. */
  private flow(s: number, lineEnd: number): FastNode {
    this.fk = s;
    this.fEnd = lineEnd;
    const value = this.flowCollection();
    return this.positions ? this.fNode! : { value, start: s, end: this.fk };
  }

  /** Skips spaces; a flow collection that reaches the end of its line continues on the next: give up. */
  private fskip(): void {
    const t = this.text;
    let k = this.fk;
    while (k < this.fEnd && t.charCodeAt(k) === 32) k++;
    if (k >= this.fEnd) giveUp();
    this.fk = k;
  }

  /** The flow collection at the cursor (`{` or `[`); returns its value and leaves the cursor past it. */
  private flowCollection(): unknown {
    this.enter();
    const t = this.text;
    const s = this.fk;
    const pos = this.positions;
    this.fk++;
    if (t.charCodeAt(s) === 91 /* [ */) {
      const value: unknown[] = [];
      const items: FastNode[] | undefined = pos ? [] : undefined;
      this.fskip();
      if (t.charCodeAt(this.fk) === 93) this.fk++;
      else
        for (;;) {
          const v = this.flowValue(false);
          if (t.charCodeAt(this.fk) === 58) giveUp(); // `[a:]` single-pair maps
          value.push(v);
          if (items) items.push(this.fNode!);
          this.fskip();
          const c = t.charCodeAt(this.fk);
          if (c === 44 /* , */) {
            this.fk++;
            this.fskip();
            if (t.charCodeAt(this.fk) === 93) giveUp(); // trailing comma
            continue;
          }
          if (c === 93 /* ] */) {
            this.fk++;
            break;
          }
          giveUp();
        }
      this.depth--;
      if (items) this.fNode = { value, start: s, end: this.fk, items };
      return value;
    }
    const value: Record<string, unknown> = {};
    const entries = pos ? (Object.create(null) as Record<string, FastNode>) : undefined;
    this.fskip();
    if (t.charCodeAt(this.fk) === 125) this.fk++;
    else
      for (;;) {
        // A plain key is already typed by plainValue: a number or null key is not a string.
        const k0 = this.flowValue(true);
        if (typeof k0 !== 'string') return giveUp();
        const key = k0;
        const ks = this.fStart;
        const ke = this.fStop;
        if (hasOwn.call(value, key) || key === '__proto__' || key === '<<') giveUp();
        this.fskip();
        if (t.charCodeAt(this.fk) !== 58) giveUp(); // `{a}` keys without values
        this.fk++;
        if (t.charCodeAt(this.fk) !== 32) giveUp();
        const v = this.flowValue(false);
        if (entries) {
          const vn = this.fNode!;
          vn.keyStart = ks;
          vn.keyEnd = ke;
          entries[key] = vn;
        }
        value[key] = v;
        this.fskip();
        const c = t.charCodeAt(this.fk);
        if (c === 44) {
          this.fk++;
          this.fskip();
          if (t.charCodeAt(this.fk) === 125) giveUp();
          continue;
        }
        if (c === 125) {
          this.fk++;
          break;
        }
        giveUp();
      }
    this.depth--;
    if (entries) this.fNode = { value, start: s, end: this.fk, entries };
    return value;
  }

  /** A flow value (nested collection, quoted or plain scalar) at the cursor; its range goes to fStart/fStop. */
  private flowValue(stopAtColon: boolean): unknown {
    this.fskip();
    const t = this.text;
    let k = this.fk;
    const c = t.charCodeAt(k);
    if (c === 123 || c === 91) {
      const v = this.flowCollection();
      this.fStart = k;
      this.fStop = this.fk;
      return v;
    }
    if (c === 34 || c === 39) {
      const e = this.quoteEnd(k, this.fEnd);
      const v = this.quoted(k, e);
      if (this.positions) this.fNode = { value: v, start: k, end: e };
      this.fStart = k;
      this.fStop = this.fk = e;
      return v;
    }
    // & * ! | > # ? % @ `
    if (c === 38 || c === 42 || c === 33 || c === 124 || c === 62 || c === 35 || c === 63 || c === 37 || c === 64 || c === 96) giveUp();
    const st = k;
    const end = this.fEnd;
    while (k < end) {
      const x = t.charCodeAt(k);
      if (x === 44 || x === 125 || x === 93 || x === 91 || x === 123) break;
      if (x === 58 /* : */) {
        const n = t.charCodeAt(k + 1);
        if (stopAtColon && (n === 32 || n === 44 || n === 125 || n === 93)) break;
        if (!stopAtColon && n === 32) giveUp(); // `[a: b]` or `{a: b: c}`
      } else if (x === 35 /* # */ && t.charCodeAt(k - 1) === 32) giveUp();
      k++;
    }
    this.fk = k;
    let e = k;
    while (e > st && t.charCodeAt(e - 1) === 32) e--;
    if (e === st) giveUp(); // empty entries
    const v = plainValue(this.intern(st, e));
    if (this.positions) this.fNode = { value: v, start: st, end: e };
    this.fStart = st;
    this.fStop = e;
    return v;
  }
}

/** Start/end offsets of the node at `path` (yaml's locate semantics: collections report their start). */
export function fastLocate(root: FastNode, path: readonly (string | number)[], key: boolean): [number, number] {
  let node = root;
  let keyRange: [number, number] | undefined;
  for (const seg of path) {
    if (node.entries) {
      const e = node.entries[String(seg)];
      if (!e) break;
      keyRange = [e.keyStart!, e.keyEnd!];
      node = e;
    } else if (node.items && typeof seg === 'number' && seg < node.items.length) {
      keyRange = undefined;
      node = node.items[seg]!;
    } else break;
  }
  if (key && keyRange) return keyRange;
  // As yaml.ts does: a collection reports its first position, except when a key was asked for and
  // there is none (the root, a sequence item), where the whole range is returned.
  if ((node.entries || node.items) && !key) return [node.start, node.start];
  return [node.start, node.end];
}
