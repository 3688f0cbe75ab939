// Placeholder until the issue that builds `weir build` lands.
import type { Command } from './command.js';

export const buildCommand: Command = {
  name: 'build',
  summary: 'not implemented yet',
  usage: 'usage: weir build',
  async run(_argv, io) {
    io.stderr('weir build: not implemented yet\n');
    return 2;
  },
};
