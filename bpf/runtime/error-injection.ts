// The functions a kernel lets bpf_override_return change (its error-injection list), for nodes whose agent
// has not reported their own (/sys/kernel/debug/error_injection/list, read by node-capabilities.ts).
//
// Source: the ALLOW_ERROR_INJECTION annotations of the Linux kernel (torvalds/linux, include/linux/syscalls.h
// for SYSCALL_DEFINEx and the files named below), as a mainstream x86_64 distribution kernel built with
// CONFIG_FUNCTION_ERROR_INJECTION lists them. It is deliberately short: a function missing here is refused
// with its name, and a node that reports its real list compiles against that instead.

/** Every x86_64 syscall entry point (SYSCALL_DEFINEx marks __x64_sys_<name> error-injectable, returning an errno). */
export const syscallWrapperPattern = /^__x64_sys_[a-z0-9_]+$/;

/** Named functions marked ALLOW_ERROR_INJECTION, with the file that marks them. */
export const defaultErrorInjectionList: readonly string[] = [
  // mm/failslab.c, mm/page_alloc.c: fault-injection gates.
  'should_failslab',
  'should_fail_alloc_page',
  // fs/btrfs/{disk-io,ctree,relocation}.c
  'open_ctree',
  'btrfs_cow_block',
  'btrfs_should_cancel_balance',
  // net/bpf/test_run.c
  'bpf_modify_return_test',
];

/** Whether a function is error-injectable on a node with this list (undefined: the built-in default). */
export function errorInjectable(fn: string, list: readonly string[] | undefined): boolean {
  if (list) return list.includes(fn);
  return syscallWrapperPattern.test(fn) || defaultErrorInjectionList.includes(fn);
}
