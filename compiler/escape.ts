// Escaping of text a policy author controls (names, paths, L7 rules, messages) wherever weir shows
// it: HTML, Markdown for pull-request comments, and terminals. One home for all of it.

/** HTML text and attribute values. */
export function htmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * Markdown text (table cells and prose of a PR comment): no HTML (`<!--` would hide the rest of the
 * comment, `</details>` would close a fold, `<img onerror>` would run), no link or image
 * (`](`), no table cell break (`|`), no line break. Everything else renders as written.
 */
export function mdText(s: string): string {
  return terminalSafe(s.replace(/\r?\n/g, ' '))
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/\]\(/g, ']\\(')
    .replace(/\|/g, '\\|');
}

/** A Markdown code span holding `s` literally: the fence is longer than any run of backticks inside; `|` escaped for tables. */
export function mdCode(s: string): string {
  const t = terminalSafe(s.replace(/\r?\n/g, ' ')).replace(/\|/g, '\\|');
  const longest = Math.max(0, ...(t.match(/`+/g) ?? []).map((r) => r.length));
  const fence = '`'.repeat(longest + 1);
  const pad = t.startsWith('`') || t.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${t}${pad}${fence}`;
}

/** A URL path segment for a Markdown link target: parentheses and spaces encoded too, so the link cannot be closed early. */
export function urlSegment(s: string): string {
  return encodeURIComponent(s).replace(/\(/g, '%28').replace(/\)/g, '%29');
}

// C0 controls except tab, DEL, C1 controls, line/paragraph separators and bidirectional overrides ("Trojan source").
const unsafe = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const visible = (c: string) => {
  const n = c.charCodeAt(0);
  return n <= 0xff ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`;
};

/**
 * One line of author text for a terminal (or a CI log): control characters, escape sequences,
 * line breaks and bidirectional overrides are shown as `\xNN` / `\uNNNN` instead of acting
 * (an ESC ] 0 ; in a field name would retitle the terminal, a CR would overwrite the line).
 */
export function terminalSafe(s: string): string {
  return s.replace(unsafe, visible);
}

/** Every string in a value (deeply) made terminalSafe: for renderers that interleave author text with their own colours. */
export function terminalSafeDeep<T>(v: T): T {
  if (typeof v === 'string') return terminalSafe(v) as T;
  if (Array.isArray(v)) return v.map((x) => terminalSafeDeep(x)) as T;
  if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = terminalSafeDeep(x);
    return out as T;
  }
  return v;
}

// An SGR sequence (colours, bold): the only escape weir itself writes.
const sgr = /\u001b\[[0-9;]*m/y;

/**
 * Output for a terminal: weir's own SGR colour sequences pass, every other control character or
 * escape sequence (OSC titles, cursor moves, C1 controls) is shown instead of acting.
 */
export function terminalOutput(s: string): string {
  let out = '';
  let last = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x0a || c === 0x09) continue;
    if (c === 0x1b) {
      sgr.lastIndex = i;
      const m = sgr.exec(s);
      if (m) {
        i += m[0].length - 1;
        continue;
      }
    }
    if (
      c < 0x20 ||
      (c >= 0x7f && c <= 0x9f) ||
      c === 0x2028 ||
      c === 0x2029 ||
      (c >= 0x202a && c <= 0x202e) ||
      (c >= 0x2066 && c <= 0x2069)
    ) {
      out += s.slice(last, i) + visible(s[i]!);
      last = i + 1;
    }
  }
  return last === 0 ? s : out + s.slice(last);
}
