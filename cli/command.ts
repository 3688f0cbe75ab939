// The shape every `weir <command>` module exports; main.ts dispatches to them.
import { terminalOutput } from '../compiler/escape.js';

export interface CommandIO {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** True when stderr is a terminal (progress and colour allowed). */
  isTTY: boolean;
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  /** Returns the exit code: 0 clean, 1 findings / failed tests / breaking plan, 2 usage or internal error. */
  run(argv: string[], io: CommandIO): Promise<number>;
}

/** A usage mistake: main prints the message and the command's usage, and exits 2. */
export class UsageError extends Error {}

export function processIO(): CommandIO {
  // On a terminal only weir's own colour sequences act; anything else that reached the output is shown, not obeyed.
  const out = (stream: NodeJS.WriteStream) => (s: string) => stream.write(stream.isTTY ? terminalOutput(s) : s);
  return {
    stdout: out(process.stdout),
    stderr: out(process.stderr),
    cwd: process.cwd(),
    env: process.env,
    isTTY: Boolean(process.stderr.isTTY),
  };
}

export function useColor(io: CommandIO): boolean {
  return io.isTTY && !('NO_COLOR' in io.env && io.env['NO_COLOR'] !== '');
}
