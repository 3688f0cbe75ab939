// The field table is one table: the converter classifies through it and docs/convert.md shows it verbatim.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fieldRow, fieldRows, fieldTableMarkdown } from '../../compiler/convert/falco/fields.js';

const doc = path.resolve(import.meta.dirname, '../../docs/convert.md');
const begin = '<!-- the field table: compiler/convert/falco/fields.ts (fieldTableMarkdown) -->';
const end = '<!-- end of the field table -->';

describe('the field table', () => {
  it('is the table docs/convert.md shows (UPDATE_GOLDEN=1 rewrites it there)', async () => {
    const text = await fs.readFile(doc, 'utf8');
    const from = text.indexOf(begin);
    const to = text.indexOf(end);
    expect(from, `docs/convert.md needs the markers ${begin} ... ${end}`).toBeGreaterThan(0);
    const table = `${begin}\n\n${fieldTableMarkdown()}\n${end}`;
    if (process.env['UPDATE_GOLDEN'] === '1') await fs.writeFile(doc, text.slice(0, from) + table + text.slice(to + end.length));
    else expect(text.slice(from, to + end.length)).toBe(table);
  });

  it.each([
    ['proc.name', false, 'exec', 'launch'],
    ['proc.name', false, 'nofd', 'binary'],
    ['proc.aname', true, 'open', 'none'],
    ['thread.cap_permitted', false, 'nofd', 'cap'],
    ['thread.cap_permitted', false, 'exec', 'none'],
    ['thread.tid', false, 'nofd', 'none'],
    ['fd.name', false, 'open', 'path'],
    ['fd.name', false, 'nofd', 'absent'],
    ['fd.name', false, 'exec', 'absent'],
    ['fd.name', false, 'fd', 'none'],
    ['fd.typechar', false, 'open', 'none'],
    ['fd.sport', false, 'fd', 'none'],
    ['evt.arg.res', false, 'nofd', 'none'],
    ['evt.arg.flags', false, 'open', 'arg'],
    ['evt.arg', true, 'nofd', 'arg'],
    ['evt.is_open_write', false, 'open', 'open-write'],
    ['evt.is_open_write', false, 'nofd', 'false-flag'],
    ['container.id', false, 'exec', 'container'],
    ['container.image.repository', false, 'exec', 'none'],
    ['k8s.ns.name', false, 'open', 'k8s.ns'],
    ['user.name', false, 'open', 'none'],
  ] as const)('%s (argument: %s) on %s calls maps as %s', (field, hasArg, cls, map) => {
    expect(fieldRow(field, hasArg, cls)?.map).toBe(map);
  });

  it('gives every inexact row the feature the report counts, and an assumption to every row exact only under one', () => {
    for (const r of fieldRows) {
      expect(r.feature.length, r.fields.join()).toBeGreaterThan(0);
      if (r.precision === 'model') expect(r.assumptions?.length, r.fields.join()).toBeGreaterThan(0);
    }
  });
});
