// Placeholder until the issue that builds `weir convert` lands.
import type { Command } from './command.js';

export const convertCommand: Command = {
  name: 'convert',
  summary: 'not implemented yet',
  usage: 'usage: weir convert',
  async run(_argv, io) {
    io.stderr('weir convert: not implemented yet\n');
    return 2;
  },
};
