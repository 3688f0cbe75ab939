// Placeholder until the issue that builds `weir agent` lands.
import type { Command } from '../../compiler/cli/command.js';

export const agentCommand: Command = {
  name: 'agent',
  summary: 'not implemented yet',
  usage: 'usage: weir agent',
  async run(_argv, io) {
    io.stderr('weir agent: not implemented yet\n');
    return 2;
  },
};
