// Plain values as YAML and JSON parse them: every stage reads policy and inventory documents through these.

/** A mapping of a parsed document. */
export type Obj = Record<string, unknown>;

/** Whether a parsed value is a mapping (not null, not a list). */
export function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The value when it is a list, else an empty one (absent and mistyped fields read as no items). */
export function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}
