// The agent's runtime events, out of the node: ring-buffer records of the runtime programs encoded as
// Tetragon JSON (controller/events/tetragon.ts), appended to the export file and streamed to every
// `weir events` follower of /v1/events, each with its own filter; and the endpoint programs' drops,
// audits and redirects as Hubble flows.
import type { HookTableEntry } from '../../compiler/lower/runtime/hooks.js';
import type { NetEvent } from '../../bpf/abi/net.js';
import { HubbleEncoder, type HubbleTables } from '../events/hubble.js';
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
  /** pid and cgroup id → pod (the agent's pod scoping knows each pod's cgroups). */
  podOf?: (pid: number, cgroupId?: bigint) => ProcessInfo['pod'] | undefined;
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
    this.#enc = new TetragonEncoder({
      nodeName: opts.node,
      table: [],
      procfs: opts.procfs ?? true,
      ...(opts.podOf ? { podOf: opts.podOf } : {}),
    });
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

  /** How many followers are streaming now (the endpoint refuses more than maxFollowers). */
  get followers(): number {
    return this.#followers.size;
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

/** Drops, audits and L7 redirects of the endpoint programs as Hubble flow lines in an export file. */
export class FlowExport {
  #enc: HubbleEncoder | undefined;
  #rb: { consume(): number; close(): void } | undefined;
  flows = 0;

  constructor(private readonly file: ExportFile) {}

  /** Starts reading `source` (once) and describes endpoints, identities and policies by the bundle's tables. */
  attach(source: { events(onEvent: (e: NetEvent) => void): { consume(): number; close(): void } }, tables: HubbleTables): void {
    if (this.#enc) this.#enc.setTables(tables);
    else this.#enc = new HubbleEncoder(tables);
    this.#rb ??= source.events((e) => this.record(e));
  }

  record(e: NetEvent): void {
    if (!this.#enc) return;
    this.flows++;
    this.file.write(this.#enc.jsonLine(e) + '\n');
  }

  close(): void {
    this.#rb?.consume();
    this.#rb?.close();
    this.#rb = undefined;
    this.file.close();
  }
}
