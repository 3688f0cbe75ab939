// `weir verify BUNDLE`: ABI checks of every image, then the evaluator (over the IR recompiled
// from the bundle's recorded sources) against the datapath emulator (over the images) on every
// equivalence class; `--kernel` replays the classes through the real program (compiler/verify/kernel.ts).
import * as path from 'node:path';
import { buildFromSources } from '../compiler/build.js';
import { abiInfo } from '../compiler/bundle/abi-stamp.js';
import { readBundle, type ReadBundle } from '../compiler/bundle/io.js';
import { sha256 } from '../compiler/bundle/assemble.js';
import { formatDiagnostic } from '../compiler/explain/format.js';
import { netLayouts } from '../bpf/abi/net.js';
import { bundleClasses } from '../compiler/verify/classes.js';
import { verifyNetwork, type VerifyReport } from '../compiler/verify/verify.js';
// Types only: the kernel module loads libbpf (koffi), so it is imported only with --kernel.
import type { KernelClass } from '../compiler/verify/kernel.js';
import { UsageError, type Command } from './command.js';
import { choice, commandConfig, configIgnore, parseCommandLine } from './inputs.js';

const usage = `usage: weir verify BUNDLE [--root DIR] [--policies PATH]... [--inventory FILE]...
                   [--kernel] [--format text|json] [--quiet]

Checks a bundle written by \`weir build\`:
  1. ABI: every image has the key/value sizes of its weir_net.h struct, a whole number of
     records and no more entries than its map holds; the ABI digest matches this weir.
  2. Semantics: recompiles the recorded sources (or --policies/--inventory), checks that the
     rebuilt manifest is byte-identical, and that the reference evaluator and the datapath
     emulator agree on every equivalence class of (endpoint, direction, peer, protocol, port).
  3. --kernel: loads the real programs with these images and replays every class with
     BPF_PROG_TEST_RUN (needs root; see compiler/verify/kernel.ts).
Exit 0 when all pass, 1 on any disagreement, 2 when the bundle cannot be read.`;

export interface AbiProblem {
  image: string;
  message: string;
}

export function checkAbi(b: ReadBundle): AbiProblem[] {
  const out: AbiProblem[] = [];
  const abi = abiInfo();
  if (b.manifest.abi.version !== abi.version)
    out.push({ image: 'manifest', message: `ABI version ${b.manifest.abi.version}, this weir speaks ${abi.version}` });
  if (b.manifest.abi.digest !== abi.digest)
    out.push({
      image: 'manifest',
      message: `ABI digest ${b.manifest.abi.digest.slice(0, 12)} differs from this weir's weir_net.h (${abi.digest.slice(0, 12)}): rebuild the bundle`,
    });
  const layouts = netLayouts as Record<string, { size: number }>;
  for (const n of b.manifest.nodes)
    for (const m of n.maps) {
      const name = `${n.node}/${m.name}${m.endpoint ? `[${m.endpoint}]` : ''}`;
      const k = layouts[m.keyType];
      const v = layouts[m.valueType];
      if (k && k.size !== m.keySize) out.push({ image: name, message: `key size ${m.keySize}, struct ${m.keyType} is ${k.size} bytes` });
      if (v && v.size !== m.valueSize)
        out.push({ image: name, message: `value size ${m.valueSize}, struct ${m.valueType} is ${v.size} bytes` });
      let blob: Uint8Array;
      try {
        blob = b.blob(m.digest);
      } catch (e) {
        out.push({ image: name, message: (e as Error).message });
        continue;
      }
      const rec = m.keySize + m.valueSize;
      if (rec === 0 || blob.length % rec !== 0)
        out.push({ image: name, message: `blob of ${blob.length} bytes is not a whole number of ${rec}-byte records` });
      else if (blob.length / rec !== m.entries)
        out.push({ image: name, message: `manifest says ${m.entries} entries, blob holds ${blob.length / rec}` });
      if (m.entries > m.maxEntries) out.push({ image: name, message: `${m.entries} entries exceed the map's capacity of ${m.maxEntries}` });
    }
  return out;
}

/**
 * verifyKernel's options for a bundle: the evaluator's classes of each node and each endpoint's
 * WEIR_EP_* flags from the endpoints table. verifyKernel asks for a node's classes before that
 * node's endpoint flags, so the node of the last classes() call names the endpoint.
 */
export function kernelVerifyOptions(
  bundle: ReadBundle,
  ir: Parameters<typeof bundleClasses>[1],
): { classes: (node: string) => KernelClass[]; endpointFlags: (endpointId: number) => number; count: number } {
  const classes = bundleClasses(bundle, ir);
  const flags = new Map(
    (bundle.table<{ endpointId: number; node: string; flags: number }[]>('endpoints') ?? []).map((e) => [
      `${e.node}/${e.endpointId}`,
      e.flags,
    ]),
  );
  let currentNode = '';
  return {
    count: classes.length,
    classes: (node) => {
      currentNode = node;
      return classes
        .filter((c) => c.node === node)
        .map((c) => ({
          endpointId: c.endpointId,
          direction: c.direction,
          peerIdentity: c.peerIdentity,
          ...(c.peerAddress ? { peerAddr: c.peerAddress } : {}),
          protocol: c.protocol,
          port: c.port,
          expect: c.action === 'redirect' ? 'redirect' : c.expected,
          ...(c.proxyPort !== undefined ? { proxyPort: c.proxyPort } : {}),
          label: `${c.endpoint} ${c.direction} peer ${c.peerIdentity} ${c.protocol}/${c.port}`,
        }));
    },
    endpointFlags: (endpointId) => flags.get(`${currentNode}/${endpointId}`) ?? 0,
  };
}

export const verifyCommand: Command = {
  name: 'verify',
  summary: 'check a bundle: ABI, evaluator vs datapath emulator, optionally the kernel',
  usage,
  async run(argv, io) {
    const { values, positionals } = parseCommandLine(argv, {
      root: { type: 'string' },
      policies: { type: 'string', multiple: true },
      inventory: { type: 'string', multiple: true },
      kernel: { type: 'boolean', default: false },
      format: { type: 'string', default: 'text' },
      quiet: { type: 'boolean', short: 'q', default: false },
    });
    if (positionals.length !== 1) throw new UsageError('give exactly one BUNDLE directory');
    choice('--format', values.format, ['text', 'json']);
    const dir = path.resolve(io.cwd, positionals[0]!);
    let bundle: ReadBundle;
    try {
      bundle = await readBundle(dir);
    } catch (e) {
      io.stderr(`weir verify: cannot read bundle ${positionals[0]}: ${(e as Error).message}\n`);
      return 2;
    }
    const log = (s: string) => !values.quiet && io.stderr(s);
    const abi = checkAbi(bundle);
    for (const p of abi) io.stderr(`weir verify: ABI: ${p.image}: ${p.message}\n`);
    log(`weir verify: ABI: ${abi.length === 0 ? 'ok' : `${abi.length} problem(s)`}\n`);

    const root = path.resolve(io.cwd, values.root ?? '.');
    const src = bundle.manifest.source;
    const paths = values.policies ?? src.paths;
    const inventory = values.inventory ?? (src.inventory ? src.inventory.split(',') : []);
    // The same project config as the build (its ignore list), and the bundle's allow-localhost mode.
    const cfg = commandConfig(root, io.stderr);
    if (!cfg) return 2;
    const rebuilt = await buildFromSources({
      paths,
      inventory,
      root,
      ...(src.revision && !values.policies ? { rev: src.revision } : {}),
      ...configIgnore(cfg.config),
      ...(src.allowLocalhost ? { allowLocalhost: src.allowLocalhost } : {}),
    });
    const errors = rebuilt.diagnostics.filter((d) => d.severity === 'error');
    for (const d of errors) io.stderr(formatDiagnostic(d) + '\n');
    let reproducible: boolean | undefined;
    let semantic: VerifyReport | undefined;
    if (errors.length === 0) {
      reproducible = rebuilt.bundle !== undefined && sha256(rebuilt.bundle.manifestBytes) === sha256(bundle.manifestBytes);
      log(
        `weir verify: rebuild from ${src.revision ? `commit ${src.revision.slice(0, 12)}` : paths.join(', ')}: ${reproducible ? 'byte-identical manifest' : 'DIFFERENT manifest (sources changed since the build, or a non-deterministic input)'}\n`,
      );
      semantic = verifyNetwork(rebuilt.ir, bundle);
      for (const p of semantic.problems) io.stderr(`weir verify: ${p}\n`);
      for (const m of semantic.mismatches)
        io.stderr(
          `weir verify: MISMATCH ${m.class.endpoint} ${m.class.direction} peer ${m.class.peerIdentity} proto ${m.class.protocol} port ${m.class.port}: ${m.what}: evaluator ${JSON.stringify(m.evaluator)} emulator ${JSON.stringify(m.emulator)}\n`,
        );
      log(
        `weir verify: semantics: ${semantic.classes} equivalence classes over ${semantic.endpoints} endpoint(s), ${semantic.mismatches.length} mismatch(es)\n`,
      );
    } else io.stderr(`weir verify: the recorded sources do not compile; pass --root, --policies and --inventory\n`);

    let kernel: unknown;
    let kernelCode = 0;
    if (values.kernel) {
      const { verifyKernel, formatKernelReport } = await import('../compiler/verify/kernel.js');
      const { classes, endpointFlags } = kernelVerifyOptions(bundle, rebuilt.ir);
      const r = await verifyKernel(dir, { classes, endpointFlags });
      kernel = r;
      if (!r.ok) kernelCode = 1;
      log(formatKernelReport(r));
    }
    const ok =
      abi.length === 0 &&
      errors.length === 0 &&
      reproducible === true &&
      semantic !== undefined &&
      semantic.mismatches.length === 0 &&
      semantic.problems.length === 0 &&
      kernelCode === 0;
    if (values.format === 'json')
      io.stdout(
        JSON.stringify(
          {
            ok,
            abi,
            reproducible,
            semantic: semantic
              ? { endpoints: semantic.endpoints, classes: semantic.classes, mismatches: semantic.mismatches, problems: semantic.problems }
              : undefined,
            ...(values.kernel ? { kernel } : {}),
          },
          null,
          2,
        ) + '\n',
      );
    return ok ? 0 : 1;
  },
};
