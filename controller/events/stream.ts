// Streams a node's runtime events as Tetragon JSON lines or compact lines: what `weir agent` writes
// for SIEMs (the same queries as for `tetra getevents -o json`) and for people (`-o compact`).
import type { HookTableEntry } from '../../compiler/lower/runtime/hooks.js';
import { compactLine, TetragonEncoder, type EncoderOptions } from './tetragon.js';

export type EventFormat = 'json' | 'compact';

/** What a RuntimeDatapath offers (kept structural so this module does not load libbpf). */
export interface RecordSource {
  events(onRecord: (data: Buffer) => void): { consume(): number; close(): void };
}

export interface StreamOptions extends Omit<EncoderOptions, 'table'> {
  table: readonly HookTableEntry[];
  format: EventFormat;
  /** One line at a time, newline included. */
  write: (line: string) => void;
  /** Drop exec/exit events (only policy events), e.g. for a quiet console. */
  policyEventsOnly?: boolean;
}

export function formatRecord(enc: TetragonEncoder, record: Buffer, format: EventFormat, policyEventsOnly = false): string | undefined {
  if (policyEventsOnly && record[0] !== 3) return undefined;
  const json = enc.jsonLine(record);
  if (json === undefined) return undefined;
  return format === 'json' ? json : compactLine(JSON.parse(json) as Record<string, unknown>);
}

/** Starts streaming; the returned function stops it (draining what is left first). */
export function streamEvents(source: RecordSource, opts: StreamOptions): () => void {
  const enc = new TetragonEncoder(opts);
  const rb = source.events((rec) => {
    const line = formatRecord(enc, rec, opts.format, opts.policyEventsOnly);
    if (line !== undefined) opts.write(line + '\n');
  });
  return () => {
    rb.consume();
    rb.close();
  };
}
