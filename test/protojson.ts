// A strict protojson reader for the tests: parses message, enum and oneof declarations of .proto files
// and checks a JSON object against a message the way protojson (proto names) writes it: only declared
// fields, 64-bit integers as strings, 32-bit as numbers, enums by name, wrappers and oneof members
// present even when zero, every other zero value omitted.
import { readFileSync } from 'node:fs';

interface Field {
  name: string;
  type: string;
  repeated: boolean;
  map?: { key: string; value: string };
  /** Member of a oneof, or a wrapper/message: written when set, also when zero. */
  presence: boolean;
}

export interface ProtoSchema {
  messages: Map<string, Field[]>;
  enums: Map<string, Set<string>>;
}

export function loadProtos(files: readonly string[]): ProtoSchema {
  const messages = new Map<string, Field[]>();
  const enums = new Map<string, Set<string>>();
  for (const file of files) {
    const text = readFileSync(file, 'utf8')
      .replace(/\/\/[^\n]*/g, '')
      .replace(/\/\*[\s\S]*?\*\//g, '');
    const tokens = text.match(/[A-Za-z_][\w.]*|\d+|[{}=;<>,[\]()"]/g) ?? [];
    let i = 0;
    const block = (kind: 'message' | 'enum', name: string): void => {
      i++; // {
      const fields: Field[] = [];
      const values = new Set<string>();
      let oneof = 0;
      while (i < tokens.length) {
        const t = tokens[i]!;
        if (t === '}') {
          i++;
          if (oneof > 0) {
            oneof--;
            continue;
          }
          break;
        }
        if (t === 'message' || t === 'enum') {
          const n = tokens[i + 1]!;
          i += 2;
          block(t, n); // nested types are referred to by their simple name here
          continue;
        }
        if (t === 'oneof') {
          i += 3; // oneof NAME {
          oneof++;
          continue;
        }
        if (t === 'reserved' || t === 'option') {
          while (tokens[i] !== ';') i++;
          i++;
          continue;
        }
        if (kind === 'enum') {
          values.add(t);
          while (tokens[i] !== ';') i++;
          i++;
          continue;
        }
        let repeated = false;
        let type = t;
        let map: Field['map'];
        if (t === 'repeated') {
          repeated = true;
          type = tokens[++i]!;
        }
        if (type === 'map') {
          map = { key: tokens[i + 2]!, value: tokens[i + 4]! };
          i += 5; // map < K , V >
        }
        const fname = tokens[++i]!;
        while (tokens[i] !== ';') i++;
        i++;
        const simple = type.split('.').pop()!;
        fields.push({
          name: fname,
          type: map ? 'map' : simple,
          repeated,
          ...(map ? { map } : {}),
          presence: oneof > 0 || !scalar.has(simple),
        });
      }
      if (kind === 'message') messages.set(name, fields);
      else enums.set(name, values);
    };
    while (i < tokens.length) {
      const t = tokens[i]!;
      if ((t === 'message' || t === 'enum') && tokens[i + 2] === '{') {
        const n = tokens[i + 1]!;
        i += 2;
        block(t, n);
      } else i++;
    }
  }
  return { messages, enums };
}

const scalar = new Set([
  'string',
  'bytes',
  'bool',
  'int32',
  'uint32',
  'sint32',
  'fixed32',
  'sfixed32',
  'int64',
  'uint64',
  'sint64',
  'fixed64',
  'sfixed64',
  'double',
  'float',
]);
const int64 = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);
const int32 = new Set(['int32', 'uint32', 'sint32', 'fixed32', 'sfixed32']);
const wrappers: Record<string, string> = {
  UInt32Value: 'uint32',
  Int32Value: 'int32',
  UInt64Value: 'uint64',
  Int64Value: 'int64',
  BoolValue: 'bool',
  StringValue: 'string',
};

/** Problems of `value` as message `type` in protojson (empty: conforms). `allow` lists extra keys by path. */
export function checkProtojson(schema: ProtoSchema, type: string, value: unknown, where = type, allow: readonly string[] = []): string[] {
  const out: string[] = [];
  const scalarCheck = (t: string, v: unknown, at: string, presence: boolean): void => {
    if (int64.has(t)) {
      if (typeof v !== 'string' || !/^-?\d+$/.test(v)) out.push(`${at}: ${t} must be a decimal string, not ${JSON.stringify(v)}`);
      else if (!presence && v === '0') out.push(`${at}: zero ${t} is omitted by protojson`);
    } else if (int32.has(t) || t === 'double' || t === 'float') {
      if (typeof v !== 'number' || (int32.has(t) && !Number.isInteger(v)) || (t.startsWith('u') && (v as number) < 0))
        out.push(`${at}: ${t} must be a number, not ${JSON.stringify(v)}`);
      else if (!presence && v === 0) out.push(`${at}: zero ${t} is omitted by protojson`);
    } else if (t === 'bool') {
      if (typeof v !== 'boolean') out.push(`${at}: bool expected`);
      else if (!presence && v === false) out.push(`${at}: false is omitted by protojson`);
    } else if (t === 'string' || t === 'bytes') {
      if (typeof v !== 'string') out.push(`${at}: string expected, not ${JSON.stringify(v)}`);
      else if (!presence && v === '') out.push(`${at}: empty string is omitted by protojson`);
    }
  };
  const walk = (t: string, v: unknown, at: string, presence: boolean): void => {
    if (scalar.has(t)) {
      scalarCheck(t, v, at, presence);
      return;
    }
    if (wrappers[t]) {
      scalarCheck(wrappers[t]!, v, at, true);
      return;
    }
    if (t === 'Timestamp') {
      if (typeof v !== 'string' || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/.test(v))
        out.push(`${at}: RFC 3339 timestamp expected, not ${JSON.stringify(v)}`);
      return;
    }
    if (t === 'Duration') return void (typeof v !== 'string' && out.push(`${at}: duration string expected`));
    const e = schema.enums.get(t);
    if (e) {
      if (typeof v !== 'string' || !e.has(v)) out.push(`${at}: ${JSON.stringify(v)} is not a value of enum ${t}`);
      return;
    }
    const fields = schema.messages.get(t);
    if (!fields) return void out.push(`${at}: unknown type ${t}`);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return void out.push(`${at}: object expected for ${t}`);
    for (const [k, x] of Object.entries(v)) {
      const path = `${at}.${k}`;
      const f = fields.find((ff) => ff.name === k);
      if (!f) {
        if (!allow.includes(path)) out.push(`${path}: ${t} has no field ${k}`);
        continue;
      }
      if (f.map) {
        if (typeof x !== 'object' || x === null || Array.isArray(x)) out.push(`${path}: map expected`);
        else if (Object.keys(x).length === 0) out.push(`${path}: empty map is omitted by protojson`);
        else for (const [mk, mv] of Object.entries(x)) walk(f.map.value, mv, `${path}.${mk}`, true);
      } else if (f.repeated) {
        if (!Array.isArray(x)) out.push(`${path}: array expected`);
        else if (x.length === 0) out.push(`${path}: empty repeated field is omitted by protojson`);
        else x.forEach((y, i) => walk(f.type, y, `${path}[${i}]`, true));
      } else walk(f.type, x, path, f.presence);
    }
  };
  walk(type, value, where, true);
  return out;
}
