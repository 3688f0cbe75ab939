import { describe, expect, it } from 'vitest';
import { descriptionPlacement } from '../../../compiler/lint/rules/description-placement.js';
import { check, cnp, where } from '../harness.js';

const cases: { name: string; yaml: string; expect: string[]; message?: RegExp }[] = [
  { name: 'spec.description is fine', yaml: cnp('description: allow the frontend\nendpointSelector: {}'), expect: [] },
  {
    name: 'top-level description',
    yaml: cnp('endpointSelector: {}', 'description: "allow the frontend"\n'),
    expect: ['cilium/description-outside-spec@6:1'],
    message: /move it to `spec.description`/,
  },
  {
    name: 'metadata.description',
    yaml: 'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: p\n  description: x\nspec:\n  endpointSelector: {}\n',
    expect: ['cilium/description-outside-spec@5:3'],
    message: /ObjectMeta/,
  },
  {
    name: 'with specs the advice names each entry',
    yaml: 'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: p}\ndescription: x\nspecs:\n- endpointSelector: {}\n',
    expect: ['cilium/description-outside-spec@4:1'],
    message: /each entry of `specs`/,
  },
];

describe('cilium/description-outside-spec', () => {
  it.each(cases)('$name', ({ yaml, expect: want, message }) => {
    const got = check(descriptionPlacement, yaml);
    expect(got.map(where)).toEqual(want);
    if (message) expect(got[0]?.message).toMatch(message);
  });
});
