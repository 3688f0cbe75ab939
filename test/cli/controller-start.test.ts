// The controller runs with the project's compiler or not at all: where the compiler cannot run
// (here its datapath ABI header bpf/include is hidden), `weir controller` refuses to start and says why.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { CommandIO } from '../../cli/command.js';

const abi = vi.hoisted(() => ({ hidden: false }));

vi.mock('../../compiler/project.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../compiler/project.js')>();
  return {
    ...real,
    projectFile: (rel: string) =>
      abi.hidden && rel.startsWith('bpf/include/') ? path.join(os.tmpdir(), 'weir-no-such-install', rel) : real.projectFile(rel),
  };
});

const { main } = await import('../../cli/main.js');
const { CompilerUnavailable, openCompiler } = await import('../../controller/reconcile/compiler.js');

function io(cwd: string): CommandIO & { out: string; err: string } {
  const o = { out: '', err: '', cwd, env: {}, isTTY: false } as CommandIO & { out: string; err: string };
  o.stdout = (s) => void (o.out += s);
  o.stderr = (s) => void (o.err += s);
  return o;
}

describe('weir controller without a working compiler', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'weir-ctl-start-'));
  });
  afterAll(async () => {
    abi.hidden = false;
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('opens the compiler where its ABI header is present', () => {
    abi.hidden = false;
    expect(openCompiler().name).toMatch(/^weir\/\d+\.\d+\.\d+/);
  });

  it('refuses to open it, naming the missing header, where it is not', () => {
    abi.hidden = true;
    expect(() => openCompiler()).toThrow(CompilerUnavailable);
    expect(() => openCompiler()).toThrow(/the policy compiler cannot run here: .*weir-no-such-install\/bpf\/include\/weir_net\.h/);
  });

  it('does not start, exits 2 and says why; it never listens and writes no key', async () => {
    abi.hidden = true;
    const x = io(dir);
    const code = await main(
      [
        'controller',
        '--repo',
        dir,
        '--key',
        'signing.key',
        '--generate-key',
        '--insecure-loopback',
        '--listen',
        '127.0.0.1:0',
        '--state-dir',
        'state',
      ],
      x,
    );
    expect(code).toBe(2);
    expect(x.err).toMatch(/^weir controller: cannot start: the policy compiler cannot run here: .*bpf\/include\/weir_net\.h/);
    expect(x.out).toBe('');
    expect(existsSync(path.join(dir, 'signing.key'))).toBe(false);
    expect(existsSync(path.join(dir, 'state'))).toBe(false);
  });
});
