// Placeholder until the issue that builds `weir controller` lands.
import type { Command } from '../../compiler/cli/command.js';

export const controllerCommand: Command = {
  name: 'controller',
  summary: 'not implemented yet',
  usage: 'usage: weir controller',
  async run(_argv, io) {
    io.stderr('weir controller: not implemented yet\n');
    return 2;
  },
};
