// Build step: `node --import tsx bpf/abi/check.ts` fails (exit 1) when any TypeScript layout
// disagrees with the BTF of bpf/build/endpoint.bpf.o. Run by bpf/build.mjs after compiling.
import { checkLayouts } from './layouts.js';

const r = await checkLayouts();
if (r.problems.length > 0) {
  console.error(`layout check against ${r.object} failed:\n  ${r.problems.join('\n  ')}`);
  process.exit(1);
}
console.error(`layout check: ${r.checked.join(', ')} agree with the BTF of ${r.object}`);
