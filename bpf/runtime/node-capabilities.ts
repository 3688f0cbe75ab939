// What this node's kernel lets weir's runtime programs do, probed for real with libbpf-ts:
// the agent reports it and the compiler lowers each node's policies against it.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { BpfObject, probeHooks, probeOverride, type HookSupport } from '../libbpf-ts/index.js';
import type { NodeCapabilities } from '../abi/runtime.js';
import { defaultRuntimeObject } from './loader.js';

const tracefs = existsSync('/sys/kernel/tracing/events') ? '/sys/kernel/tracing' : '/sys/kernel/debug/tracing';

export interface ProbedCapabilities {
  caps: NodeCapabilities;
  /** Why each missing capability is missing (libbpf's errno and message), for the agent's status. */
  reasons: Partial<Record<keyof NodeCapabilities, string>>;
  hooks: HookSupport[];
}

export function probeRuntimeCapabilities(objectPath = defaultRuntimeObject): ProbedCapabilities {
  const hooks = probeHooks();
  const h = (k: HookSupport['hook']) => hooks.find((x) => x.hook === k);
  const reasons: ProbedCapabilities['reasons'] = {};
  // The runtime object itself uses bpf_send_signal, a ring buffer and array-of-maps: if it loads, those work.
  let objectLoads = false;
  try {
    const o = BpfObject.open(objectPath);
    try {
      o.load();
      objectLoads = true;
    } finally {
      o.close();
    }
  } catch (e) {
    const why = (e as Error).message.split('\n')[0] ?? 'load failed';
    reasons.sendSignal = reasons.ringbuf = reasons.mapInMap = why;
  }
  const syscalls = existsSync(`${tracefs}/events/syscalls`)
    ? readdirSync(`${tracefs}/events/syscalls`)
        .filter((d) => d.startsWith('sys_enter_'))
        .map((d) => d.slice('sys_enter_'.length))
        .sort()
    : [];
  const lsmList = existsSync('/sys/kernel/security/lsm') ? readFileSync('/sys/kernel/security/lsm', 'utf8').split(',') : [];
  const kprobeAttach = h('kprobe')?.attaches ?? false;
  const overrideProbe = probeOverride();
  // Lines of "function<TAB>type" (ERRNO, NULL, TRUE, ...): the functions bpf_override_return may change.
  const eiList = '/sys/kernel/debug/error_injection/list';
  const errorInjection = existsSync(eiList)
    ? readFileSync(eiList, 'utf8')
        .split('\n')
        .map((l) => l.split(/\s+/)[0] ?? '')
        .filter(Boolean)
    : undefined;
  const caps: NodeCapabilities = {
    tracepoints: h('tracepoint')?.attaches ?? false,
    rawSyscalls: (h('tracepoint')?.attaches ?? false) && existsSync(`${tracefs}/events/raw_syscalls/sys_enter`),
    kprobes: h('kprobe')?.loads ?? false,
    kprobeAttach,
    fentry: h('fentry')?.attaches ?? false,
    lsm: (h('lsm')?.attaches ?? false) && lsmList.includes('bpf'),
    // bpf_override_return: kprobe programs may call it (CONFIG_BPF_KPROBE_OVERRIDE), on attached kprobes, on
    // functions listed for error injection.
    override: kprobeAttach && overrideProbe.loads && existsSync('/sys/kernel/debug/error_injection/list'),
    sendSignal: objectLoads,
    ringbuf: objectLoads,
    mapInMap: objectLoads,
    // weir has no uprobe program to try; reported false until it has one.
    uprobes: false,
    syscalls,
    ...(errorInjection ? { errorInjection } : {}),
  };
  for (const k of ['kprobe', 'fentry', 'lsm', 'tracepoint'] as const) {
    const x = h(k);
    if (x && !x.attaches) reasons[k === 'kprobe' ? 'kprobeAttach' : k === 'tracepoint' ? 'tracepoints' : k] = x.error ?? 'does not attach';
  }
  if (!caps.lsm && h('lsm')?.attaches) reasons.lsm = `bpf is not in the active LSM list (${lsmList.join(',')})`;
  if (!caps.override)
    reasons.override = !kprobeAttach
      ? 'needs kprobe attach'
      : !overrideProbe.loads
        ? `bpf_override_return: ${overrideProbe.error}`
        : 'no error-injection list';
  return { caps, reasons, hooks };
}
