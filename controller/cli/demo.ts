// Placeholder until the issue that builds `weir demo` lands.
import type { Command } from '../../compiler/cli/command.js';

export const demoCommand: Command = {
  name: 'demo',
  summary: 'not implemented yet',
  usage: 'usage: weir demo',
  async run(_argv, io) {
    io.stderr('weir demo: not implemented yet\n');
    return 2;
  },
};
