// Placeholder until the issue that builds `weir lint` lands.
import type { Command } from './command.js';

export const lintCommand: Command = {
  name: 'lint',
  summary: 'not implemented yet',
  usage: 'usage: weir lint',
  async run(_argv, io) {
    io.stderr('weir lint: not implemented yet\n');
    return 2;
  },
};
