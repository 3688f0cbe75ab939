// Observed Tetragon events with values no integer type holds (1e400, a 400-digit int_arg) are
// malformed lines, counted as such; `weir plan --events` never ends with an internal error on them.
import { describe, expect, it } from 'vitest';
import { parseTetragonEvents } from '../../compiler/observed/tetragon.js';

const event = (arg: string) =>
  `{"process_kprobe":{"process":{"binary":"/bin/cat","pod":{"namespace":"default","name":"xwing"}},"function_name":"__x64_sys_openat","args":[${arg},{"string_arg":"/etc/shadow"}]}}`;

describe('Tetragon event values', () => {
  it('counts a non-finite or oversized number as a malformed line and keeps the others', () => {
    const r = parseTetragonEvents(
      [
        event('{"int_arg":1e400}'),
        event(`{"int_arg":"${'9'.repeat(400)}"}`),
        event('{"int_arg":-100}'),
        event('{"int_arg":"18446744073709551615"}'),
      ].join('\n'),
    );
    expect(r.malformed.map((m) => [m.line, m.reason])).toEqual([
      [1, 'args[0]: int_arg is not a finite number'],
      [2, expect.stringMatching(/^args\[0\]: int_arg 9{24}… does not fit 64 bits$/)],
    ]);
    expect(r.items.map((e) => e.args[0])).toEqual([-100, '18446744073709551615']);
  });
});
