// What Hubble flows and Tetragon events share: one JSON object per line, blank lines ignored, every
// other line an item or a counted malformed line with its reason (never silently dropped).
import { isObj } from '../model/value.js';

export interface Malformed {
  line: number;
  reason: string;
}

export interface ParseResult<T> {
  items: T[];
  total: number;
  malformed: Malformed[];
}

export function obj(v: unknown): Record<string, unknown> | undefined {
  return isObj(v) ? v : undefined;
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** One line as a JSON object, or why it is not one. */
export function jsonObject(text: string, line: number): { top: Record<string, unknown> } | { malformed: Malformed } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return { malformed: { line, reason: `not JSON: ${(e as Error).message}` } };
  }
  const top = obj(v);
  return top ? { top } : { malformed: { line, reason: 'not a JSON object' } };
}

export function parseLines<T>(
  text: string,
  parse: (line: string, n: number) => T | Malformed,
  isItem: (r: T | Malformed) => r is T,
): ParseResult<T> {
  const items: T[] = [];
  const malformed: Malformed[] = [];
  let total = 0;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!.trim();
    if (l === '') continue;
    total++;
    const r = parse(l, i + 1);
    if (isItem(r)) items.push(r);
    else malformed.push(r);
  }
  return { items, total, malformed };
}
