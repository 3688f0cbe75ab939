// The agent's runtime events, out of the node: ring-buffer records of the runtime programs encoded as
// Tetragon JSON (controller/events/tetragon.ts), appended to the export file and streamed to every
// `weir events` follower of /v1/events, each with its own filter.
import type { HookTableEntry } from '../../compiler/lower/runtime/hooks.js';
import type { ExportFile } from '../events/export-file.js';
import { matchesFilter, type EventFilter } from '../events/filter.js';
import type { RecordSource } from '../events/stream.js';
import { TetragonEncoder, type ProcessInfo } from '../events/tetragon.js';

interface Follower {
  filter: EventFilter;
  write: (line: string) => void;
  end?: () => void;
}

export interface RuntimeEventExportOptions {
  node: string;
  file?: ExportFile;
  /** pid → pod (the agent's pod scoping reads it from the process's cgroup). */
  podOf?: (pid: number) => ProcessInfo['pod'] | undefined;
  /** Read cwd, arguments, auid and parents older than weir from /proc (default true). */
  procfs?: boolean;
}

export class RuntimeEventExport {
  readonly #enc: TetragonEncoder;
  readonly #followers = new Set<Follower>();
  #rb: { consume(): number; close(): void } | undefined;
  #source: RecordSource | undefined;
  events = 0;

  constructor(private readonly opts: RuntimeEventExportOptions) {
    this.#enc = new TetragonEncoder({ nodeName: opts.node, table: [], procfs: opts.procfs ?? true, ...(opts.podOf ? { podOf: opts.podOf } : {}) });
  }

  /** Starts reading `source` (once) and names hooks by the bundle's table from now on. */
  attach(source: RecordSource, table: readonly HookTableEntry[]): void {
    this.#enc.setTable(table);
    if (this.#source === source) return;
    this.#rb?.close();
    this.#source = source;
    this.#rb = source.events((rec) => this.record(rec));
  }

  /** Encodes one ring-buffer record and hands it out (exposed for replay and tests). */
  record(rec: Buffer): void {
    const line = this.#enc.jsonLine(rec);
    if (line === undefined) return;
    this.events++;
    this.opts.file?.write(line + '\n');
    if (this.#followers.size === 0) return;
    const o = JSON.parse(line) as Record<string, unknown>;
    for (const f of this.#followers) if (matchesFilter(o, f.filter)) f.write(line + '\n');
  }

  /** Streams every following event that passes `filter` to `write` (`end` when the agent stops); the returned function stops it. */
  follow(filter: EventFilter, write: (line: string) => void, end?: () => void): () => void {
    const f: Follower = { filter, write, ...(end ? { end } : {}) };
    this.#followers.add(f);
    return () => void this.#followers.delete(f);
  }

  /** Reads what the ring buffer holds now (tests; the poller does it on its own). */
  drain(): void {
    this.#rb?.consume();
  }

  close(): void {
    this.#rb?.consume();
    this.#rb?.close();
    this.#rb = undefined;
    for (const f of this.#followers) f.end?.();
    this.#followers.clear();
    this.opts.file?.close();
  }
}
