// The capacities of a runtime policy: Tetragon's selector limits (pkg/selectors) and those of weir's
// syscall handler, whose kernel layouts in bpf/include/weir_runtime.h are sized by the same numbers
// (a test compares them with the header). Lint, the runtime IR, lowering and convert all read this table.
export const tetragonLimits = {
  selectorsPerHook: 5,
  matchArgsPerSelector: 5,
  /** Inline values of one numeric matchArgs / matchPIDs / matchNamespaces operator. */
  valuesPerNumericOperator: 4,
  actionsPerSelector: 3,
  matchBinariesPerSelector: 1,
  matchPIDsPerSelector: 2,
  matchNamespacesPerSelector: 2,
  argsPerHook: 5,
  /** Bytes of a string value (the kernel reads 256 with the NUL). */
  stringBytes: 255,
  /** Bytes of a Prefix/Postfix value: an LPM trie key holds 256 data bytes, 4 of them the set id. */
  lpmStringBytes: 252,
} as const;
