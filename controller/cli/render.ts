// Placeholder until the issue that builds `weir render` lands.
import type { Command } from '../../compiler/cli/command.js';

export const renderCommand: Command = {
  name: 'render',
  summary: 'not implemented yet',
  usage: 'usage: weir render',
  async run(_argv, io) {
    io.stderr('weir render: not implemented yet\n');
    return 2;
  },
};
