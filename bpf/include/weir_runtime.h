/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Runtime enforcement map and event layouts: the single source of truth.
 *
 * bpf/abi/runtime.ts states these layouts once and encodes map images and
 * decodes ring-buffer records through them; bpf/abi/check.ts (run by
 * bpf/build.mjs) compares it with the BTF of the compiled object. Change a
 * layout here, bump WRT_ABI_VERSION, and the TS must follow.
 *
 * Vocabulary follows Tetragon's pkg/selectors: a hook (one kprobe/tracepoint
 * entry of a TracingPolicy) has up to 5 selectors, OR'ed; the filters inside
 * one selector are AND'ed; the first selector that matches decides the actions.
 *
 * All integers are host byte order (little-endian on x86_64).
 */
#ifndef WEIR_RUNTIME_H
#define WEIR_RUNTIME_H

#include <linux/types.h>

#define WRT_ABI_VERSION 2

/*
 * Capacities of one node: the sizes of the per-generation maps, the only bound on how many policies
 * and hooks load together (any number of them may share one syscall). The compiler checks a node's
 * images against these and names the map that is full (runtime/capacity).
 */
#define WRT_CAP_HOOKS     1024  /* wrt_hooks: compiled hooks, from all policies */
#define WRT_CAP_CALLS     512   /* wrt_calls: syscalls (and raw_syscalls) with hooks */
#define WRT_CAP_LIST      16384 /* wrt_lists: hook ids of the walk lists */
#define WRT_CAP_BIN_INDEX 4096  /* wrt_bin_index: binaries and binary prefixes/postfixes of the prefilter */
#define WRT_MAX_POLICIES  1024  /* wrt_policies */
#define WRT_CAP_SET       4096  /* each string and numeric set map (hash maps, preallocated) */
#define WRT_CAP_LPM_SET   65536 /* each prefix / postfix set map (LPM tries, allocated per entry) */

/* Upstream limits (Tetragon pkg/selectors), enforced by the compiler too. */
#define WRT_MAX_ARGS           5  /* args a hook reads */
#define WRT_MAX_SELECTORS      5
#define WRT_MAX_MATCH_ARGS     5
#define WRT_MAX_VALUES         4  /* inline values of a numeric operator */
#define WRT_MAX_PID_FILTERS    2
#define WRT_MAX_NS_FILTERS     2
#define WRT_MAX_ACTIONS        3
#define WRT_STR_MAX            256 /* string bytes read per arg, NUL included: 255 usable */
#define WRT_LPM_STR_MAX        252 /* LPM tries take at most 256 data bytes: 4 (set id) + 252 */

/* Syscall number used for hooks on raw_syscalls/sys_enter (every syscall). */
#define WRT_NR_ANY 0xffffffffu

/* wrt_hook.arg_src: 0..5 = syscall argument registers, or the syscall number itself. */
#define WRT_ARG_SRC_NR 6

/* Argument types, as read from the syscall's argument registers. */
#define WRT_ARG_NONE   0
#define WRT_ARG_INT    1 /* int / int32: sign-extended from 32 bits */
#define WRT_ARG_UINT32 2
#define WRT_ARG_INT64  3 /* int64, long, syscall64 */
#define WRT_ARG_UINT64 4 /* uint64, size_t, pointers */
#define WRT_ARG_STRING 5 /* const char __user *: bounded bpf_probe_read_user_str */

/* matchArgs / matchBinaries operators. */
#define WRT_OP_EQUAL        1
#define WRT_OP_NOT_EQUAL    2
#define WRT_OP_PREFIX       3
#define WRT_OP_NOT_PREFIX   4
#define WRT_OP_POSTFIX      5
#define WRT_OP_NOT_POSTFIX  6
#define WRT_OP_GT           7
#define WRT_OP_LT           8
#define WRT_OP_MASK         9
#define WRT_OP_IN_RANGE     10 /* vals[2i] <= x <= vals[2i+1] */
#define WRT_OP_NOT_IN_RANGE 11
#define WRT_OP_IN_MAP       12 /* numeric set lookup */
#define WRT_OP_NOT_IN_MAP   13

/* matchPIDs flags. */
#define WRT_PID_NOT_IN        0x1 /* operator NotIn (else In) */
#define WRT_PID_NAMESPACE_PID 0x2 /* isNamespacePID: compare the pid seen in the task's own pid namespace */
#define WRT_PID_FOLLOW_FORKS  0x4 /* children of a matching pid match too (tracked in wrt_proc.flags) */

/* matchNamespaces: namespace kinds, compared by inode number. */
#define WRT_NS_UTS    1
#define WRT_NS_IPC    2
#define WRT_NS_MNT    3
#define WRT_NS_PID    4 /* the task's active pid namespace (its struct pid) */
#define WRT_NS_NET    5
#define WRT_NS_CGROUP 6
#define WRT_NS_PID_FOR_CHILDREN 7
#define WRT_NS_USER   8 /* the user namespace of the task's credentials; its host inode is host_ns[0] (8 & 7) */
#define WRT_NS_FLAG_NOT_IN  0x1
#define WRT_NS_FLAG_HOST_NS 0x2 /* value "host_ns": the init task's namespace of that kind */

/* matchCapabilities. */
#define WRT_CAP_EFFECTIVE   1
#define WRT_CAP_PERMITTED   2
#define WRT_CAP_INHERITABLE 3
#define WRT_CAP_FLAG_NAMESPACE 0x1 /* isNamespaceCapability: a task in the host's user namespace never matches */

/* Actions. */
#define WRT_ACTION_POST     1
#define WRT_ACTION_NOPOST   2
#define WRT_ACTION_SIGKILL  3
#define WRT_ACTION_SIGNAL   4
#define WRT_ACTION_OVERRIDE 5 /* never emitted for tracepoint hooks: the compiler rejects it */

/* Policy modes (TracingPolicy spec.options policy-mode). */
#define WRT_MODE_ENFORCE 0
#define WRT_MODE_MONITOR 1 /* enforcement actions become Post with the would-be action noted */

/* wrt_selector.flags: which filters are present. */
#define WRT_SEL_BINARIES     0x1
#define WRT_SEL_CGROUP_SCOPE 0x2 /* podSelector/namespace scoping: current cgroup id in num set scope_set */
#define WRT_SEL_FOLLOW_CHILDREN 0x4 /* matchBinaries followChildren: ancestors' binaries count too (up to 4 generations) */

/* wrt_hook.flags */
#define WRT_HOOK_SCOPED 0x1 /* the policy is namespaced or has a podSelector: check scope_set first */

struct wrt_match_arg {
	__u8 index;  /* position in wrt_hook.arg_src (0-based) */
	__u8 op;     /* WRT_OP_* */
	__u8 nvals;  /* inline values used */
	__u8 pad;
	__u32 set_id; /* string/LPM/numeric set id for set operators */
	__u64 vals[WRT_MAX_VALUES];
};

struct wrt_pid_filter {
	__u8 flags; /* WRT_PID_* */
	__u8 nvals;
	__u16 pad;
	__u32 vals[WRT_MAX_VALUES];
};

struct wrt_ns_filter {
	__u8 kind;  /* WRT_NS_*; 0 = unused */
	__u8 flags; /* WRT_NS_FLAG_* */
	__u8 nvals;
	__u8 pad;
	__u32 vals[WRT_MAX_VALUES]; /* namespace inode numbers */
};

struct wrt_cap_filter {
	__u8 kind;  /* WRT_CAP_*; 0 = unused */
	__u8 not_in;
	__u16 flags; /* WRT_CAP_FLAG_* */
	__u32 pad2;
	__u64 mask; /* In: any of these bits set; NotIn: none set */
};

struct wrt_action {
	__u32 action; /* WRT_ACTION_* */
	__s32 arg;    /* signal number for SIGNAL/SIGKILL */
};

struct wrt_selector {
	__u8 n_args;
	__u8 n_pids;
	__u8 n_actions;
	__u8 bin_op;   /* WRT_OP_EQUAL (In), NOT_EQUAL (NotIn), PREFIX, NOT_PREFIX, POSTFIX, NOT_POSTFIX */
	__u32 bin_set; /* string/prefix/postfix set holding the binaries */
	__u32 flags;   /* WRT_SEL_* */
	__u32 pad;
	struct wrt_match_arg args[WRT_MAX_MATCH_ARGS];
	struct wrt_pid_filter pids[WRT_MAX_PID_FILTERS];
	struct wrt_ns_filter ns[WRT_MAX_NS_FILTERS];
	struct wrt_cap_filter cap;
	struct wrt_action actions[WRT_MAX_ACTIONS];
};

/*
 * The walk of one syscall (wrt_calls, keyed by syscall number or WRT_NR_ANY). Hooks are stored by
 * hook id in wrt_hooks; a walk list is a run of hook ids in wrt_lists. A call visits its open list
 * (hooks that any call may match), then the lists the prefilter gives for the call's subjects: the
 * caller's binary, and one string argument of the syscall (arg_reg). wrt_bin_index, an LPM trie of
 * wrt_lpm_key, maps each exact value (with its NUL), prefix, or reversed postfix a hook names to the
 * hooks that can admit a subject starting with it; its set ids are index_id + WRT_IDX_* per subject
 * and direction. A hook is indexed on the binary when every selector has a positive matchBinaries
 * (In, Prefix: forwards; Postfix: reversed) without followChildren, else on the argument when every
 * selector has a positive string matchArgs (Equal, Prefix / Postfix) on arg_reg; it is then in no open
 * list, and a hook whose values cannot match the call is never visited.
 */
#define WRT_CALL_FWD     0x1 /* binary, forwards */
#define WRT_CALL_REV     0x2 /* binary, reversed */
#define WRT_CALL_ARG_FWD 0x4 /* argument arg_reg, forwards */
#define WRT_CALL_ARG_REV 0x8 /* argument arg_reg, reversed */

#define WRT_IDX_FWD     0 /* set id offsets from wrt_call.index_id, in the order of the flags */
#define WRT_IDX_REV     1
#define WRT_IDX_ARG_FWD 2
#define WRT_IDX_ARG_REV 3

struct wrt_call {
	__u32 open_start; /* first wrt_lists index of the open list */
	__u32 open_count;
	__u32 index_id;   /* a multiple of 4: the prefilter's set ids are index_id + WRT_IDX_* */
	__u32 flags;      /* WRT_CALL_* */
	__u32 arg_reg;    /* the argument register (0..5) of the ARG prefilter */
};

/* A run of wrt_lists: the value of a wrt_bin_index entry. */
struct wrt_span {
	__u32 start;
	__u32 count;
};

struct wrt_hook {
	__u32 policy_id; /* index into the policies map */
	__u32 hook_id;   /* cookie: index into the image's hook table (policy file, line, commit) */
	__u8 n_args;
	__u8 n_selectors;
	__u16 flags;     /* WRT_HOOK_* */
	__u32 scope_set; /* numeric set of cgroup ids when WRT_HOOK_SCOPED */
	__u8 arg_src[WRT_MAX_ARGS];  /* syscall argument register index 0..5 */
	__u8 arg_type[WRT_MAX_ARGS]; /* WRT_ARG_* */
	__u8 pad[6];
	struct wrt_selector sel[WRT_MAX_SELECTORS];
};

/* Node facts the agent fills at load time (wrt_node map, one entry). */
struct wrt_node_info {
	__u32 host_ns[8]; /* inode of the init task's namespace, indexed by WRT_NS_* & 7 (user: 0) */
};

struct wrt_policy {
	__u32 mode;  /* WRT_MODE_* */
	__u32 flags;
};

/*
 * String set keys (Equal / matchBinaries In): exact bytes, zero-padded, length without NUL.
 * Three size classes, as Tetragon keeps them: a string of up to 64 bytes is looked up in the
 * 72-byte-key map, up to 128 in the 136-byte one, else the full one, so short paths (most of
 * them) hash a short key. A wrt_str_key buffer doubles as the smaller keys (same leading fields).
 */
#define WRT_STR_CLASS_A 64
#define WRT_STR_CLASS_B 128

struct wrt_str_key {
	__u32 len; /* first, so that the same buffer serves as a wrt_lpm_key */
	__u32 set_id;
	char str[WRT_STR_MAX];
};

struct wrt_str_key_a {
	__u32 len;
	__u32 set_id;
	char str[WRT_STR_CLASS_A];
};

struct wrt_str_key_b {
	__u32 len;
	__u32 set_id;
	char str[WRT_STR_CLASS_B];
};

/*
 * Prefix / reversed-postfix LPM key. prefixlen counts bits after the prefixlen
 * field: 32 (set id) + 8 * bytes of the string matched. A wrt_str_key buffer
 * doubles as this key (same leading fields); lookups clamp the length to 252.
 */
struct wrt_lpm_key {
	__u32 prefixlen;
	__u32 set_id;
	char str[WRT_LPM_STR_MAX];
};

struct wrt_num_key {
	__u32 set_id;
	__u32 pad;
	__u64 value;
};

/* Process table entry, keyed by thread id (the tgid's entry is what hooks read). */
struct wrt_proc {
	__u32 pid;   /* tgid */
	__u32 ppid;
	__u32 uid;
	__u32 flags; /* the handler's cache: a bit per hook id whose matchBinaries rejected this binary; writers zero it */
	__u64 exec_ktime;
	__u32 binary_len;
	__u32 pad;   /* the generation (wrt_active + 1) `flags` was computed for; writers zero it */
	char binary[WRT_STR_MAX];
};

/* Per-CPU counters (wrt_stats, one entry): what the agent exports as metrics. */
struct wrt_stats {
	__u64 calls;       /* hook invocations (a syscall with at least one hook) */
	__u64 matches;     /* selectors that matched */
	__u64 signals;     /* signals sent (Sigkill/Signal in enforce mode) */
	__u64 events;      /* records written to the ring buffer */
	__u64 events_lost; /* records dropped: the ring buffer was full */
};

/* Ring-buffer records. */
#define WRT_EV_EXEC 1
#define WRT_EV_EXIT 2
#define WRT_EV_CALL 3

/* wrt_event_hdr.flags */
#define WRT_EVF_MONITOR       0x1 /* the policy was in monitor mode: action is what enforce would do */
#define WRT_EVF_RAW_TP        0x2 /* the hook was on raw_syscalls/sys_enter */
#define WRT_EVF_BINARY_KNOWN  0x4 /* the process was seen exec'ing (else binary is the comm) */

struct wrt_event_hdr {
	__u8 kind;   /* WRT_EV_* */
	__u8 action; /* WRT_ACTION_* taken (or that enforce would take) */
	__u8 flags;  /* WRT_EVF_* */
	__u8 n_args;
	__u32 policy_id;
	__u32 hook_id;
	__s32 syscall_nr;
	__u32 pid;
	__u32 tid;
	__u32 ppid;
	__u32 uid;
	__u64 ktime;
	__u64 cgroup_id; /* the task's cgroup v2 id (its pod's or container's cgroup on a Kubernetes node) */
	__s32 signal;   /* signal sent, 0 if none */
	__u32 binary_len;
	char binary[WRT_STR_MAX];
};

struct wrt_event_exec {
	struct wrt_event_hdr hdr;
	__u32 args_len; /* bytes of args read (argv, NUL-separated, argv[0] included), at most 255 */
	__u32 pad;
	char args[WRT_STR_MAX];
};

struct wrt_event_exit {
	struct wrt_event_hdr hdr;
	__s32 exit_code; /* wait status as do_exit() left it: (status << 8) | terminating signal */
	__u32 pad;
};

struct wrt_event_call {
	struct wrt_event_hdr hdr;
	__u8 arg_type[WRT_MAX_ARGS];
	__u8 pad[3];
	__u16 str_len[WRT_MAX_ARGS]; /* bytes read, NUL excluded; strings only */
	__u16 pad2[3];
	__u64 argv[WRT_MAX_ARGS];    /* raw register values (pointers for strings) */
	char strs[WRT_MAX_ARGS][WRT_STR_MAX];
};


/*
 * Hooks on kernel functions (kprobe/kretprobe, fentry/fexit, BPF LSM). Each attach site the
 * compiler chose for a node has a number; its hooks are keyed by WRT_SITE_BASE + site in
 * wrt_hook_key.syscall_nr (syscall numbers stay below it), and the entry program finds its site
 * in its BPF cookie.
 */
#define WRT_SITE_BASE 0x40000000u
/* wrt_hook.arg_src: the probed function's return value (return probes, matchReturnArgs). */
#define WRT_ARG_SRC_RET 7

/*
 * Argument types of kernel functions, read with CO-RE. Path-like types are compared as
 * strings (the resolved path, bounded like Tetragon's d_path emulation), socket types with
 * the socket operators below, report types only appear in events.
 */
#define WRT_ARG_FILE         6  /* struct file *: its path */
#define WRT_ARG_PATH         7  /* struct path *: the path */
#define WRT_ARG_FD           8  /* int fd: the path of the calling task's open file */
#define WRT_ARG_SOCK         9  /* struct sock * */
#define WRT_ARG_SKB          10 /* struct sk_buff *: its IP/L4 header */
#define WRT_ARG_SOCKADDR     11 /* struct sockaddr *: family, address, port (as SAddr/SPort) */
#define WRT_ARG_CRED         12 /* struct cred *: reported (uids, caps) */
#define WRT_ARG_BINPRM       13 /* struct linux_binprm *: its filename */
#define WRT_ARG_CHAR_BUF     14 /* kernel buffer; its length from another argument (arg_type size bits) */
#define WRT_ARG_NOP          15 /* not read */
#define WRT_ARG_DENTRY       16 /* struct dentry *: its path within its mount */
#define WRT_ARG_MODULE       17 /* struct module *: its name */
#define WRT_ARG_LOAD_INFO    18 /* struct load_info *: the module's name */
#define WRT_ARG_BPF_MAP      19 /* struct bpf_map *: its name */
#define WRT_ARG_KIOCB        20 /* struct kiocb *: the path of ki_filp */
#define WRT_ARG_SOCKET       21 /* struct socket *: its sk, as WRT_ARG_SOCK */
#define WRT_ARG_NET_DEVICE   22 /* struct net_device *: its name */
#define WRT_ARG_CAPABILITY   23 /* int capability number */
#define WRT_ARG_USER_NS      24 /* struct user_namespace *: reported (level, owner) */
#define WRT_ARG_BPF_ATTR     25 /* union bpf_attr *: reported (prog type, insn count) */
#define WRT_ARG_PERF_EVENT   26 /* struct perf_event *: reported (type, config) */
#define WRT_ARG_IOV_ITER     27 /* struct iov_iter *: its first segment's bytes */
#define WRT_ARG_USER_STRING  28 /* const char __user * of a kernel function */
/* wrt_hook.arg_type: the low 5 bits are the type; for WRT_ARG_CHAR_BUF the high 3 bits are 1 + the
 * position (in arg_src) of the argument holding its size, 0 when it has none. */
#define WRT_ARG_TYPE_MASK  0x1f
#define WRT_ARG_SIZE_SHIFT 5

/* Socket operators (Tetragon's), on WRT_ARG_SOCK/SKB/SOCKADDR/SOCKET arguments. Ports, family,
 * protocol and state compare with the inline vals, or with a numeric set when set_id is not 0.
 * Addresses are looked up in the prefix trie: key bytes are the family (4 or 6) then the address,
 * prefixlen 32 + 8 + the CIDR's bits. */
#define WRT_OP_SPORT          14
#define WRT_OP_NOT_SPORT      15
#define WRT_OP_SPORT_PRIV     16 /* port < 1024 */
#define WRT_OP_NOT_SPORT_PRIV 17
#define WRT_OP_DPORT          18
#define WRT_OP_NOT_DPORT      19
#define WRT_OP_DPORT_PRIV     20
#define WRT_OP_NOT_DPORT_PRIV 21
#define WRT_OP_SADDR          22
#define WRT_OP_NOT_SADDR      23
#define WRT_OP_DADDR          24
#define WRT_OP_NOT_DADDR      25
#define WRT_OP_PROTOCOL       26
#define WRT_OP_FAMILY         27
#define WRT_OP_STATE          28

#endif /* WEIR_RUNTIME_H */
