// matchArgs operators fit argument types (Tetragon pkg/selectors, parseMatchArg): socket operators
// on socket arguments, string operators on strings, numeric ones on numbers. Anything else is
// refused when the policy is loaded, or (a prefix of a number) can never match.
import { hookName, tracingHooks, tracingKinds } from '../cilium.js';
import { asArray, isObj } from '../../model/value.js';
import type { LintRule } from '../rule.js';

type TypeClass = 'string' | 'int' | 'sock' | 'sockaddr' | 'sockaddr_un' | 'cap' | 'other';

const stringTypes = new Set([
  'string',
  'char_buf',
  'char_iovec',
  'file',
  'path',
  'fd',
  'dentry',
  'linux_binprm',
  'data_loc',
  'filename',
  'net_device',
]);
const intTypes = new Set([
  'int',
  'int8',
  'int16',
  'int32',
  'int64',
  'uint8',
  'uint16',
  'uint32',
  'uint64',
  's8',
  's16',
  's32',
  's64',
  'u8',
  'u16',
  'u32',
  'u64',
  'size_t',
  'syscall64',
  'long',
]);
const capTypes = new Set(['kernel_cap_t', 'cap_inheritable', 'cap_permitted', 'cap_effective']);

function classOf(type: string): TypeClass {
  if (stringTypes.has(type)) return 'string';
  if (intTypes.has(type)) return 'int';
  if (capTypes.has(type)) return 'cap';
  if (type === 'sock' || type === 'skb' || type === 'socket') return 'sock';
  if (type === 'sockaddr') return 'sockaddr';
  if (type === 'sockaddr_un') return 'sockaddr_un';
  return 'other';
}

const lower = (s: string) => s.toLowerCase();
const sockPorts = new Set(['sport', 'dport', 'notsport', 'notdport', 'protocol', 'family', 'state'].map(lower));
const sockAddrs = new Set(['saddr', 'daddr', 'notsaddr', 'notdaddr']);
const sockPriv = new Set(['sportpriv', 'dportpriv', 'notsportpriv', 'notdportpriv']);
const stringOps = new Set(['prefix', 'notprefix', 'postfix', 'notpostfix', 'substring', 'substringigncase']);
const numberOps = new Set(['mask', 'gt', 'lt', 'inrange', 'notinrange']);
const fileOps = new Set(['filetype', 'notfiletype']);
/** What a sockaddr argument carries: its source address, port and family (no destination, protocol or state). */
const sockaddrOnly = new Set(['saddr', 'notsaddr', 'sport', 'notsport', 'sportpriv', 'notsportpriv', 'family']);

/** Why `op` does not fit an argument of `type`, or undefined when it does. */
export function operatorMismatch(op: string, type: string): string | undefined {
  const o = lower(op);
  const c = classOf(type);
  if (c === 'other') return undefined;
  if (sockPorts.has(o) || sockAddrs.has(o) || sockPriv.has(o)) {
    if (c === 'sock') return undefined;
    if (c === 'sockaddr')
      return sockaddrOnly.has(o) ? undefined : `a sockaddr argument carries only its source address, port and family: ${op} does not apply`;
    if (c === 'sockaddr_un') return o === 'family' ? undefined : `a sockaddr_un argument takes Family and string operators only, not ${op}`;
    return `${op} reads a socket: it applies to sock, skb, socket or sockaddr arguments, not ${type}`;
  }
  if (fileOps.has(o)) return type === 'file' || type === 'path' ? undefined : `${op} applies to file and path arguments, not ${type}`;
  if (stringOps.has(o))
    return c === 'string' || (c === 'sockaddr_un' && (o === 'prefix' || o === 'notprefix'))
      ? undefined
      : `${op} compares text: on a ${type} argument it never matches; use Equal, InRange or Mask for numbers`;
  if (numberOps.has(o))
    return c === 'int' || (c === 'cap' && o === 'mask') ? undefined : `${op} compares numbers: Tetragon refuses it on a ${type} argument`;
  if (o === 'equal' || o === 'notequal')
    return c === 'sock' || c === 'sockaddr'
      ? `${op} does not apply to a ${type} argument: use SAddr, DAddr, SPort, DPort, Protocol or Family`
      : undefined;
  return undefined;
}

export const tetragonOperatorType: LintRule = {
  meta: {
    id: 'tetragon/operator-type',
    severity: 'error',
    description:
      'A matchArgs operator that does not fit the type of the argument it filters (DPort on a string, Prefix on an int, Mask on a string, ...).',
    rationale:
      'Tetragon checks operators against argument types when it loads a policy: socket operators need sock/skb/sockaddr arguments, numeric operators numbers, FileType files; it refuses the whole policy otherwise. A string operator on a number is accepted but compares bytes that never match.',
    fixable: false,
    kinds: tracingKinds,
    example: 'args: [{index: 1, type: string}]\nselectors: [{matchArgs: [{index: 1, operator: DPort, values: ["443"]}]}]',
  },
  check(ctx) {
    for (const { hook, path, type } of tracingHooks(ctx.doc)) {
      const args = asArray(hook['args']);
      // For tracepoints, matchArgs.index is a position in `args`; elsewhere the declared arg's `index`.
      const typeOf = (index: number): string | undefined => {
        const a = type === 'tracepoints' ? args[index] : args.find((x) => isObj(x) && x['index'] === index);
        return isObj(a) && typeof a['type'] === 'string' ? a['type'] : undefined;
      };
      asArray(hook['selectors']).forEach((s, i) => {
        if (!isObj(s)) return;
        asArray(s['matchArgs']).forEach((m, j) => {
          if (!isObj(m) || typeof m['operator'] !== 'string' || typeof m['index'] !== 'number') return;
          const argType = typeOf(m['index']);
          const why = argType === undefined ? undefined : operatorMismatch(m['operator'], argType);
          if (why)
            ctx.report([...path, 'selectors', i, 'matchArgs', j, 'operator'], `${why} (argument ${m['index']} of ${hookName(hook)})`);
        });
      });
    }
  },
};
