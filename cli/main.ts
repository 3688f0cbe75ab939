// `weir` entry point: dispatch to a command module; never print a stack trace for a user's mistake.
import { processIO, UsageError, type Command, type CommandIO } from './command.js';
import { commands } from './commands.js';

export async function main(argv: string[], io: CommandIO = processIO()): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(usage());
    return name ? 0 : 2;
  }
  if (name === '--version') {
    io.stdout(`${await version()}\n`);
    return 0;
  }
  const loader = commands[name];
  if (!loader) {
    io.stderr(`weir: unknown command \`${name}\`\n\n${usage()}`);
    return 2;
  }
  let cmd: Command | undefined;
  try {
    cmd = await loader();
    if (rest.includes('--help') || rest.includes('-h')) {
      io.stdout(`${cmd.usage}\n`);
      return 0;
    }
    return await cmd.run(rest, io);
  } catch (e) {
    if (
      e instanceof UsageError ||
      (e as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ||
      (e as { code?: string }).code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' ||
      (e as { code?: string }).code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL'
    ) {
      io.stderr(`weir ${name}: ${(e as Error).message}\n${cmd ? `\n${cmd.usage}\n` : ''}`);
      return 2;
    }
    io.stderr(`weir ${name}: internal error: ${(e as Error).message}\n`);
    if (io.env['WEIR_DEBUG']) io.stderr(`${(e as Error).stack}\n`);
    return 2;
  }
}

function usage(): string {
  const lines = Object.entries(commandSummaries).map(([n, s]) => `  ${n.padEnd(13)} ${s}`);
  return `usage: weir <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nRun \`weir <command> --help\` for a command's options.\n`;
}

const commandSummaries: Record<string, string> = {
  lint: 'check policies and report diagnostics with file:line:col',
  build: 'compile policies and an inventory into a bundle of map images',
  verify: 'check a bundle against the map layouts, the reference evaluator and the kernel',
  test: 'run PolicyTest cases',
  explain: 'explain the verdict for one flow',
  plan: 'show what a change allows, denies or kills compared with a base revision',
  connectivity: 'list the effective connectivity of one revision',
  convert: 'convert Falco rules, PodSecurityPolicies or Pod Security Standards to TracingPolicies',
  render: 'print manifests only (Argo CD config management plugin)',
  keys: 'create the bundle signing key and print its Secret and trust ConfigMap',
  controller: 'run the GitOps controller',
  agent: 'run the node agent',
  demo: 'run the live demo on the bundled policies',
};

async function version(): Promise<string> {
  return (await import('../compiler/project.js')).weirVersion();
}
