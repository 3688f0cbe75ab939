// Whether this process may load BPF programs (root, bpffs, the compiled objects), with the reason if not.
import { existsSync } from 'node:fs';

export function kernelVerifyAvailable(endpointObject: string): { ok: true } | { ok: false; reason: string } {
  if (process.platform !== 'linux') return { ok: false, reason: 'not Linux' };
  if (process.getuid?.() !== 0)
    return { ok: false, reason: 'not root: loading BPF programs needs CAP_BPF and CAP_NET_ADMIN (run as root)' };
  if (!existsSync('/sys/fs/bpf')) return { ok: false, reason: 'no bpffs mounted at /sys/fs/bpf' };
  if (!existsSync(endpointObject)) return { ok: false, reason: `${endpointObject} is missing: run \`npm run build\`` };
  return { ok: true };
}
