// Action names as Tetragon's selector parser knows them (matched case-insensitively upstream).
import { hookName, tracingHooks, tracingKinds } from '../cilium.js';
import { asArray, isObj } from '../../model/value.js';
import type { LintRule } from '../rule.js';

export const tetragonActions = [
  'Post',
  'FollowFD',
  'UnfollowFD',
  'Sigkill',
  'CopyFD',
  'Override',
  'GetUrl',
  'DnsLookup',
  'NoPost',
  'Signal',
  'TrackSock',
  'UntrackSock',
  'NotifyEnforcer',
  'CleanupEnforcerNotification',
  'Set',
];

export const tetragonAction: LintRule = {
  meta: {
    id: 'tetragon/unknown-action',
    severity: 'error',
    description: 'A matchActions or matchReturnActions entry names an action Tetragon does not know.',
    rationale:
      'An unknown action makes Tetragon refuse the whole policy when it is loaded; names are matched without regard to case (`SigKill` works), but `Kill` is not an action.',
    fixable: false,
    kinds: tracingKinds,
    example: 'matchActions: [{action: Kill}]',
  },
  check(ctx) {
    const known = new Map(tetragonActions.map((a) => [a.toLowerCase(), a]));
    for (const { hook, path } of tracingHooks(ctx.doc))
      asArray(hook['selectors']).forEach((s, i) => {
        if (!isObj(s)) return;
        for (const f of ['matchActions', 'matchReturnActions'])
          asArray(s[f]).forEach((a, j) => {
            if (!isObj(a) || typeof a['action'] !== 'string') return;
            if (!known.has(a['action'].toLowerCase()))
              ctx.report(
                [...path, 'selectors', i, f, j, 'action'],
                `unknown action \`${a['action']}\` in ${hookName(hook)}; Tetragon knows ${tetragonActions.join(', ')}`,
              );
          });
      });
  },
};
