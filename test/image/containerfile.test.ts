// The Containerfile users build and scripts/build-image.sh make the same image: the same runtime
// packages, Node.js major, user, entry point, environment and labels, and a build context that
// leaves out what the build stage makes itself. (Building both is `npm run test:image`.)
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const containerfile = readFileSync(path.join(root, 'Containerfile'), 'utf8');
const script = readFileSync(path.join(root, 'scripts/build-image.sh'), 'utf8');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  version: string;
  engines: { node: string };
  files: string[];
  scripts: Record<string, string>;
};

/** Instructions with their continuation lines joined, comments dropped. */
const instructions = containerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));
const stages: string[][] = [];
for (const l of instructions) {
  if (l.startsWith('FROM ')) stages.push([l]);
  else stages.at(-1)?.push(l);
}

describe('Containerfile and scripts/build-image.sh', () => {
  it('a build stage that compiles and packs, a runtime stage from the same Node.js base', () => {
    expect(stages).toHaveLength(2);
    const [build, runtime] = stages as [string[], string[]];
    expect(build[0]).toBe('FROM ${NODE_IMAGE} AS build');
    expect(runtime[0]).toBe('FROM ${NODE_IMAGE}');
    const base = /^ARG NODE_IMAGE=docker\.io\/library\/node:(\d+)-bookworm-slim$/m.exec(containerfile);
    expect(base).not.toBeNull();
    expect(Number(base![1])).toBeGreaterThanOrEqual(Number(/\d+/.exec(pkg.engines.node)![0]));
    expect(build.join('\n')).toMatch(
      /clang[\s\S]*libbpf-dev[\s\S]*npm ci[\s\S]*npm run build[\s\S]*npm pack[\s\S]*tar -xzf[^\n]*-C \/opt\/weir[\s\S]*npm ci --omit=dev/,
    );
    expect(script).toMatch(/npm pack[\s\S]*tar -xzf[^\n]*opt\/weir[\s\S]*npm ci --omit=dev/);
    expect(script).toContain('ln -s /opt/weir/bin/weir.js "$mnt/usr/local/bin/weir"');
    expect(containerfile).toContain('RUN ln -s /opt/weir/bin/weir.js /usr/local/bin/weir');
    expect(runtime).toContain('COPY --from=build /opt/weir /opt/weir');
  });

  it('the same runtime packages, user, entry point, PATH and labels', () => {
    const runtime = stages[1]!.join('\n');
    const aptInstall = /apt-get install -y --no-install-recommends ([a-z0-9 .+-]+?) &&/.exec(runtime)![1]!.trim().split(/\s+/).sort();
    const scriptPackages = /^packages=\(([^)]*)\)$/m
      .exec(script)![1]!
      .trim()
      .split(/\s+/)
      .filter((p) => p !== 'libstdc++6')
      .sort();
    expect(aptInstall).toEqual(scriptPackages); // libstdc++6 comes with the official Node.js image
    expect(aptInstall).toEqual(expect.arrayContaining(['libbpf1', 'git', 'ca-certificates']));
    expect(runtime).toContain('USER 65532:65532');
    expect(script).toContain('--user 65532:65532');
    expect(runtime).toContain('ENTRYPOINT ["weir"]');
    expect(script).toContain(`--entrypoint '["weir"]'`);
    const path1 = /ENV PATH=(\S+)/.exec(runtime)![1];
    expect(script).toContain(`--env PATH=${path1}`);
    for (const label of [...runtime.matchAll(/(org\.opencontainers\.image\.[a-z]+)=/g)].map((m) => m[1]!))
      expect(script, label).toContain(`${label}=`);
    expect(runtime).toMatch(/useradd --uid 65532/);
    expect(runtime).toContain(`ARG WEIR_VERSION=${pkg.version}`);
    expect(runtime).toContain('org.opencontainers.image.version=${WEIR_VERSION}');
    expect(script).toMatch(/weir:x:65532:65532:/);
  });

  it('the build context leaves out installed and built output; npm run test:image runs the image test', () => {
    const ignored = readFileSync(path.join(root, '.containerignore'), 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'));
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist', 'bpf/build', '.git']));
    expect(pkg.scripts['test:image']).toBe('vitest run --config vitest.image.config.ts');
    expect(readFileSync(path.join(root, '.ci/run'), 'utf8')).toMatch(/npm run test:image/);
  });
});
