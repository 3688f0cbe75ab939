// A TracingPolicy in monitor mode never acts: Tetragon posts the event in place of Sigkill, Signal
// and Override, so an author who meant to enforce is protected by nothing.
import { hookName, tracingHooks, tracingKinds } from '../cilium.js';
import { asArray, isObj } from '../../model/value.js';
import type { LintRule } from '../rule.js';

const enforcing = new Set(['sigkill', 'signal', 'override']);

export const tetragonMonitorAction: LintRule = {
  meta: {
    id: 'tetragon/monitor-mode-action',
    severity: 'warning',
    description: 'A Sigkill, Signal or Override action in a policy whose `policy-mode` option is `monitor`.',
    rationale:
      'In monitor mode Tetragon reports what the policy matches and never runs its enforcing actions: the action is there, and nothing is killed, signalled or overridden. Switch the policy to enforce (policy-mode: enforce, or drop the option) when it is meant to act.',
    fixable: false,
    kinds: tracingKinds,
    example:
      'options: [{name: policy-mode, value: monitor}]\nkprobes:\n- call: sys_openat\n  selectors: [{matchActions: [{action: Sigkill}]}]',
  },
  check(ctx) {
    const spec = ctx.doc.value['spec'];
    if (!isObj(spec) || !asArray(spec['options']).some((o) => isObj(o) && o['name'] === 'policy-mode' && o['value'] === 'monitor')) return;
    for (const { hook, path } of tracingHooks(ctx.doc))
      asArray(hook['selectors']).forEach((s, i) => {
        if (!isObj(s)) return;
        for (const f of ['matchActions', 'matchReturnActions'])
          asArray(s[f]).forEach((a, j) => {
            if (isObj(a) && typeof a['action'] === 'string' && enforcing.has(a['action'].toLowerCase()))
              ctx.report(
                [...path, 'selectors', i, f, j, 'action'],
                `${a['action']} in ${hookName(hook)} never runs: the policy is in monitor mode, so Tetragon only posts the event; set policy-mode to enforce for it to act`,
              );
          });
      });
  },
};
