// Deterministic file-descriptor ownership: close()/Symbol.dispose, a FinalizationRegistry only as a safety net.
import { native } from './native.js';

const leaked = new FinalizationRegistry<number>((fd) => {
  // A dropped, unclosed handle: close it late rather than leak a kernel object for the process lifetime.
  try {
    native().close(fd);
  } catch {
    /* process teardown */
  }
});

/** Something that owns kernel resources and releases them when closed. */
export abstract class FdOwner implements Disposable {
  #fd: number;
  readonly #owned: boolean;

  protected constructor(fd: number, owned: boolean) {
    this.#fd = fd;
    this.#owned = owned;
    if (owned) leaked.register(this, fd, this);
  }

  /** The file descriptor; throws once closed so that a stale fd is never reused by mistake. */
  get fd(): number {
    if (this.#fd < 0) throw new Error(`${this.describe()}: used after close()`);
    return this.#fd;
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  protected abstract describe(): string;

  close(): void {
    if (this.#fd < 0) return;
    if (this.#owned) {
      leaked.unregister(this);
      native().close(this.#fd);
    }
    this.#fd = -1;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
