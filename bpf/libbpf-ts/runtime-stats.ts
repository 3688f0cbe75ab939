// BPF run-time statistics (kernel.bpf_stats_enabled), kept apart from the core binding.
// bpf_enable_stats(BPF_STATS_RUN_TIME) turns on per-program run_time_ns/run_cnt for as long as the
// returned fd stays open (unlike the kernel.bpf_stats_enabled sysctl, it cannot be left on by mistake);
// /proc/self/fdinfo of a program fd reports them.
import { readFileSync } from 'node:fs';
import koffi from 'koffi';

let enableStats: ((type: number) => number) | undefined;
let closeFd: ((fd: number) => number) | undefined;

/** Enables run-time stats until the returned function is called. */
export function enableRunTimeStats(): () => void {
  if (!enableStats) {
    const lib = koffi.load('libbpf.so.1');
    enableStats = lib.func('int bpf_enable_stats(int type)') as (type: number) => number;
    closeFd = koffi.load('libc.so.6').func('int close(int fd)') as (fd: number) => number;
  }
  const fd = enableStats(0 /* BPF_STATS_RUN_TIME */);
  if (fd < 0) throw new Error(`bpf_enable_stats(BPF_STATS_RUN_TIME) failed: ${fd}`);
  return () => void closeFd!(fd);
}

/** run_time_ns and run_cnt of a loaded program, from /proc/self/fdinfo. */
export function programRunStats(progFd: number): { runTimeNs: number; runCount: number } {
  const info = readFileSync(`/proc/self/fdinfo/${progFd}`, 'utf8');
  const num = (k: string) => Number(new RegExp(`^${k}:\\s*(\\d+)`, 'm').exec(info)?.[1] ?? 0);
  return { runTimeNs: num('run_time_ns'), runCount: num('run_cnt') };
}
