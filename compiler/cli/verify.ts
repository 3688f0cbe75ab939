// Placeholder until the issue that builds `weir verify` lands.
import type { Command } from './command.js';

export const verifyCommand: Command = {
  name: 'verify',
  summary: 'not implemented yet',
  usage: 'usage: weir verify',
  async run(_argv, io) {
    io.stderr('weir verify: not implemented yet\n');
    return 2;
  },
};
