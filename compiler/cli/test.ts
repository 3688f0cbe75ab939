// Placeholder until the issue that builds `weir test` lands.
import type { Command } from './command.js';

export const testCommand: Command = {
  name: 'test',
  summary: 'not implemented yet',
  usage: 'usage: weir test',
  async run(_argv, io) {
    io.stderr('weir test: not implemented yet\n');
    return 2;
  },
};
