// Placeholder until the issue that builds `weir plan` lands.
import type { Command } from './command.js';

export const planCommand: Command = {
  name: 'plan',
  summary: 'not implemented yet',
  usage: 'usage: weir plan',
  async run(_argv, io) {
    io.stderr('weir plan: not implemented yet\n');
    return 2;
  },
};
