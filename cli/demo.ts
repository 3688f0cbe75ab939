// `weir demo`: the README's main command (the story is controller/demo/story.ts).
import { parseArgs } from 'node:util';
import { runDemo } from '../controller/demo/story.js';
import { UsageError, type Command } from './command.js';

export const demoCommand: Command = {
  name: 'demo',
  summary: 'run the whole loop locally: Git commit → controller → agent → verdicts, a change and its hot swap',
  usage: `usage: weir demo [--emulator] [--keep]

  --emulator   use the emulator datapath even as root
  --keep       keep the temporary directory (repository, bundle store, agent state)

It first runs weir lint, build (with policies/inventory.yaml), verify and test on the bundled
policies/ in process, then fills a temporary Git repository with the bundled Star Wars policies
and inventory and tells the live story on it.

As root with the BPF objects built, the demo enforces on veth pairs in network namespaces
named wdemo-*; otherwise it runs the same story on the emulator datapath and says so.
It removes everything it created on exit, also on Ctrl-C.`,
  async run(argv, io) {
    let v;
    try {
      v = parseArgs({
        args: argv,
        options: { emulator: { type: 'boolean', default: false }, keep: { type: 'boolean', default: false } },
      }).values;
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    return runDemo(io, { emulator: v.emulator, keep: v.keep });
  },
};
