// Golden files for converter output a user reads; UPDATE_GOLDEN=1 rewrites them.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { expect } from 'vitest';

const dir = path.resolve(import.meta.dirname, '../golden/convert');

export async function expectGolden(name: string, actual: string): Promise<void> {
  const file = path.join(dir, name);
  if (process.env['UPDATE_GOLDEN'] === '1') {
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, actual);
    return;
  }
  let expected: string;
  try {
    expected = await fs.readFile(file, 'utf8');
  } catch {
    throw new Error(`golden file ${path.relative(process.cwd(), file)} is missing; run with UPDATE_GOLDEN=1 to create it`);
  }
  expect(actual).toBe(expected);
}
