// The real node's runtime capabilities, probed with libbpf-ts, and the lowering that follows from them.
import { describe, expect, it } from 'vitest';
import { probeRuntimeCapabilities } from '../../bpf/runtime/node-capabilities.js';
import { capabilityProfiles } from '../../compiler/lower/runtime/capabilities.js';
import { skipKernel } from '../kernel-env.js';
import { compileText } from './helpers.js';

describe.skipIf(skipKernel())('runtime capability probe', () => {
  it('finds what this machine offers and the lowering honours it', () => {
    const { caps, reasons } = probeRuntimeCapabilities();
    // Tracepoints, signals, ring buffers and map-in-map work here; the syscall list comes from tracefs.
    expect(caps).toMatchObject({ tracepoints: true, rawSyscalls: true, sendSignal: true, ringbuf: true, mapInMap: true });
    expect(caps.syscalls).toEqual(expect.arrayContaining(['openat', 'mount', 'pivot_root']));
    // Every missing capability carries a reason.
    for (const [k, v] of Object.entries(caps))
      if (v === false && k !== 'uprobes') expect(reasons[k as keyof typeof reasons], k).toBeTruthy();
    if (!caps.kprobeAttach) {
      // This machine (kernel facts in common.md): kprobes load but do not attach, no fentry, no BPF LSM.
      const { syscalls: _s, ...bools } = caps;
      expect(bools).toEqual(capabilityProfiles['tracepoint-only']);
      const r = compileText(
        `apiVersion: cilium.io/v1alpha1\nkind: TracingPolicy\nmetadata: {name: k}\nspec:\n  kprobes:\n  - {call: security_file_open}\n  - {call: sys_openat, syscall: true}\n`,
        caps,
      );
      expect(r.errors).toEqual([
        expect.stringMatching(/kprobe on kernel function security_file_open needs kprobe or fentry attach, which this node lacks/),
      ]);
    }
    const missing = compileText(
      `apiVersion: cilium.io/v1alpha1\nkind: TracingPolicy\nmetadata: {name: k}\nspec:\n  kprobes:\n  - {call: sys_openat, syscall: true}\n`,
      { ...caps, syscalls: ['read'] },
    );
    expect(missing.errors).toEqual([expect.stringMatching(/node local: the node has no syscalls\/sys_enter_openat tracepoint/)]);
  });
});
