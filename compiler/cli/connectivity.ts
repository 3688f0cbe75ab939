// Placeholder until the issue that builds `weir connectivity` lands.
import type { Command } from './command.js';

export const connectivityCommand: Command = {
  name: 'connectivity',
  summary: 'not implemented yet',
  usage: 'usage: weir connectivity',
  async run(_argv, io) {
    io.stderr('weir connectivity: not implemented yet\n');
    return 2;
  },
};
