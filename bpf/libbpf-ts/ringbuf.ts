// Ring buffer consumer that never blocks the event loop.
//
// Choice: libbpf's ring_buffer exposes an epoll fd that becomes readable when any attached ring has data.
// libuv watches that fd (koffi.node.poll, i.e. uv_poll), and on readiness we call ring_buffer__consume,
// which drains what is there without sleeping. No thread blocks in ring_buffer__poll, the sample callback
// runs on the JS thread (koffi registered callbacks must), and an idle ring costs nothing. A worker thread
// would need its own koffi callback plumbing and a copy across threads for every event.
import { check, checkPtr } from './errors.js';
import type { BpfMap } from './map.js';
import { copyOut, native, type NativePtr, pollFd, registerCallback } from './native.js';

export type SampleHandler = (data: Buffer) => void;

export interface RingBufferOptions {
  /** Keep the process alive while the ring is open (default false: a consumer alone does not hold the loop). */
  ref?: boolean;
}

export class RingBuffer implements Disposable {
  #rb: NativePtr;
  readonly #unregister: () => void;
  readonly #poller: { stop: () => void; unref: () => void };
  #error: unknown;

  constructor(map: BpfMap, onSample: SampleHandler, opts: RingBufferOptions = {}) {
    if (map.type !== 'ringbuf') throw new Error(`RingBuffer: map ${map.name} is a ${map.type}, not a ringbuf`);
    // The callback copies the sample out: the ring memory is reused as soon as it returns.
    const cb = registerCallback(
      ((_ctx: unknown, data: unknown, size: number | bigint) => {
        try {
          onSample(copyOut(data, Number(size)));
          return 0;
        } catch (e) {
          this.#error = e;
          return -1; // stops this consume round; the error is rethrown from consume()
        }
      }) as (...args: never[]) => unknown,
      'weir_ring_buffer_sample_fn',
    );
    this.#unregister = cb.unregister;
    try {
      this.#rb = checkPtr(`ring_buffer__new(${map.name})`, () => native().ring_buffer__new(map.fd, cb.ptr, null, null) as NativePtr);
    } catch (e) {
      cb.unregister();
      throw e;
    }
    const epfd = native().ring_buffer__epoll_fd(this.#rb) as number;
    this.#poller = pollFd(epfd, () => {
      try {
        this.consume();
      } catch (e) {
        process.emitWarning(`ring buffer ${map.name}: ${(e as Error).message}`);
      }
    });
    if (!opts.ref) this.#poller.unref();
  }

  /** Drains every pending sample now (synchronously); returns how many were handled. */
  consume(): number {
    if (this.#rb === null) return 0;
    const rb = this.#rb;
    this.#error = undefined;
    const n = native().ring_buffer__consume(rb) as number;
    if (this.#error !== undefined) {
      const e = this.#error;
      this.#error = undefined;
      throw e;
    }
    return check('ring_buffer__consume', () => n);
  }

  close(): void {
    if (this.#rb === null) return;
    this.#poller.stop();
    native().ring_buffer__free(this.#rb);
    this.#rb = null;
    this.#unregister();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
