// What current Tetragon no longer accepts: the fd-tracking actions and their fields (deprecated in
// v1.4, out of the TracingPolicy CRD after v1.7), and `returnArgAction: Post`.
import { hookName, tracingHooks, tracingKinds } from '../cilium.js';
import { asArray, isObj } from '../../model/value.js';
import type { LintRule } from '../rule.js';

/** The Tetragon release whose CRD no longer has these, and what to do instead. */
export const removedInTetragon = {
  release: 'v1.8',
  actions: new Map([
    ['followfd', 'FollowFD'],
    ['unfollowfd', 'UnfollowFD'],
    ['copyfd', 'CopyFD'],
  ]),
  fields: ['argFd', 'argName'],
} as const;

export const tetragonRemoved: LintRule = {
  meta: {
    id: 'tetragon/removed',
    severity: 'error',
    description:
      'An action or field current Tetragon no longer accepts: FollowFD, UnfollowFD, CopyFD, `argFd`, `argName`, `returnArgAction: Post`.',
    rationale: `Tetragon deprecated fd tracking in v1.4 and removed the actions and their fields from the TracingPolicy CRD in ${removedInTetragon.release}: the API server rejects such a policy. An \`fd\` argument now resolves its path on its own, so the FollowFD/UnfollowFD hooks can simply go. Since ${removedInTetragon.release} the agent also refuses \`returnArgAction: Post\` (use returnArg).`,
    fixable: false,
    kinds: tracingKinds,
    example: 'selectors: [{matchActions: [{action: FollowFD, argFd: 0, argName: 1}]}]',
  },
  check(ctx) {
    const { release } = removedInTetragon;
    for (const { hook, path } of tracingHooks(ctx.doc)) {
      if (typeof hook['returnArgAction'] === 'string' && hook['returnArgAction'].toLowerCase() === 'post')
        ctx.report(
          [...path, 'returnArgAction'],
          `returnArgAction: Post is refused since Tetragon ${release}; remove it (returnArg already puts the return value in the event)`,
        );
      asArray(hook['selectors']).forEach((s, i) => {
        if (!isObj(s)) return;
        for (const f of ['matchActions', 'matchReturnActions'])
          asArray(s[f]).forEach((a, j) => {
            if (!isObj(a)) return;
            const at = [...path, 'selectors', i, f, j];
            const name = typeof a['action'] === 'string' ? removedInTetragon.actions.get(a['action'].toLowerCase()) : undefined;
            if (name)
              ctx.report(
                [...at, 'action'],
                `${name} (in ${hookName(hook)}) was removed in Tetragon ${release} (deprecated since v1.4): an fd argument resolves its path on its own now; drop the action`,
              );
            for (const k of removedInTetragon.fields)
              if (k in a)
                ctx.report([...at, k], `\`${k}\` was removed with the fd-tracking actions in Tetragon ${release}; drop it`, { key: true });
          });
      });
    }
  },
};
