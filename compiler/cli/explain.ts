// Placeholder until the issue that builds `weir explain` lands.
import type { Command } from './command.js';

export const explainCommand: Command = {
  name: 'explain',
  summary: 'not implemented yet',
  usage: 'usage: weir explain',
  async run(_argv, io) {
    io.stderr('weir explain: not implemented yet\n');
    return 2;
  },
};
