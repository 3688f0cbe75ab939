// Kernel mode of the demo: not available in this version; run.ts falls back to the emulator.
import type { Datapath } from '../agent/datapath.js';

export interface KernelEnvironment {
  datapath: Datapath;
  verdictOnWire?: (from: string, to: string, port: number) => Promise<'allow' | 'deny'>;
  destroy(): Promise<void>;
}

export async function createEnvironment(_pods: string): Promise<KernelEnvironment> {
  throw new Error('the kernel demo environment is not built yet');
}

export async function runtimeStory(_dir: string): Promise<string> {
  return 'unavailable: the runtime policy story needs issue #5\'s runtime compiler';
}
