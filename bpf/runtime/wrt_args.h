/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Argument readers for hooks on kernel functions (kprobes, fentry, BPF LSM, raw tracepoints), with CO-RE:
 * the kernel types below carry only the fields weir reads and are relocated against the running kernel's
 * BTF at load time (the ___wrt flavour keeps them apart from other local declarations).
 *
 *   file / path / dentry / kiocb / fd   the path, by a bounded walk up the dentries and across mounts to
 *                                       the task's root (as Tetragon's d_path emulation does)
 *   linux_binprm                        its filename
 *   sock / socket / skb / sockaddr      family, protocol, state, addresses and ports (wrt_sock_facts)
 *   cred                                the capability sets
 *   module / bpf_map / net_device / load_info   their names
 *
 * And the socket operators (WRT_OP_SPORT ... WRT_OP_STATE) over the facts. Addresses are matched through
 * the prefix trie: wrt_addr_key builds the key (family byte, address) that the lowering's CIDR keys prefix.
 */
#ifndef WRT_ARGS_H
#define WRT_ARGS_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "weir_runtime.h"

struct qstr___wrt { const unsigned char *name; } __attribute__((preserve_access_index));
struct dentry___wrt {
	struct dentry___wrt *d_parent;
	struct qstr___wrt d_name;
} __attribute__((preserve_access_index));
struct vfsmount___wrt { struct dentry___wrt *mnt_root; } __attribute__((preserve_access_index));
struct mount___wrt {
	struct mount___wrt *mnt_parent;
	struct dentry___wrt *mnt_mountpoint;
	struct vfsmount___wrt mnt;
} __attribute__((preserve_access_index));
struct path___wrt { struct vfsmount___wrt *mnt; struct dentry___wrt *dentry; } __attribute__((preserve_access_index));
struct file___wrt { struct path___wrt f_path; void *private_data; } __attribute__((preserve_access_index));
struct fdtable___wrt { unsigned int max_fds; struct file___wrt **fd; } __attribute__((preserve_access_index));
struct files_struct___wrt { struct fdtable___wrt *fdt; } __attribute__((preserve_access_index));
struct fs_struct___wrt { struct path___wrt root; } __attribute__((preserve_access_index));
struct kernel_cap___wrt { __u64 val; };
struct cred___wrt {
	struct kernel_cap___wrt cap_inheritable;
	struct kernel_cap___wrt cap_permitted;
	struct kernel_cap___wrt cap_effective;
} __attribute__((preserve_access_index));
struct task_struct___wrt {
	struct files_struct___wrt *files;
	struct fs_struct___wrt *fs;
	const struct cred___wrt *cred;
} __attribute__((preserve_access_index));
struct in6_addr___wrt { __u8 s6_addr[16]; };
struct sock_common___wrt {
	__u32 skc_daddr;
	__u32 skc_rcv_saddr;
	__u16 skc_dport;
	__u16 skc_num;
	unsigned short skc_family;
	volatile unsigned char skc_state;
	struct in6_addr___wrt skc_v6_daddr;
	struct in6_addr___wrt skc_v6_rcv_saddr;
} __attribute__((preserve_access_index));
struct sock___wrt { struct sock_common___wrt __sk_common; __u16 sk_protocol; } __attribute__((preserve_access_index));
struct socket___wrt { struct sock___wrt *sk; } __attribute__((preserve_access_index));
struct sk_buff___wrt {
	unsigned char *head;
	__u16 transport_header;
	__u16 network_header;
} __attribute__((preserve_access_index));
struct linux_binprm___wrt { const char *filename; } __attribute__((preserve_access_index));
struct kiocb___wrt { struct file___wrt *ki_filp; } __attribute__((preserve_access_index));
struct module___wrt { char name[56]; } __attribute__((preserve_access_index));
struct bpf_map___wrt { char name[16]; } __attribute__((preserve_access_index));
struct net_device___wrt { char name[16]; } __attribute__((preserve_access_index));
struct load_info___wrt { const char *name; } __attribute__((preserve_access_index));

/* The kernel's x86_64 pt_regs, as a syscall's function (__x64_sys_*) receives the user registers. */
struct pt_regs___wrt {
	unsigned long di, si, dx, r10, r8, r9;
} __attribute__((preserve_access_index));

/* The six syscall arguments from the pt_regs a syscall's function is passed (syscall argument order). */
static __always_inline void wrt_syscall_regs(const void *p, __u64 *out)
{
	const struct pt_regs___wrt *regs = p;
	out[0] = BPF_CORE_READ(regs, di);
	out[1] = BPF_CORE_READ(regs, si);
	out[2] = BPF_CORE_READ(regs, dx);
	out[3] = BPF_CORE_READ(regs, r10);
	out[4] = BPF_CORE_READ(regs, r8);
	out[5] = BPF_CORE_READ(regs, r9);
}

/* What the socket operators compare. Addresses in network order; IPv4 in the first 4 bytes. */
struct wrt_sock_facts {
	__u16 family;
	__u16 protocol;
	__u16 sport; /* host order */
	__u16 dport; /* host order */
	__u8 state;
	__u8 pad[7];
	__u8 saddr[16];
	__u8 daddr[16];
};

#define WRT_AF_INET  2
#define WRT_AF_INET6 10
#define WRT_PATH_DEPTH 16     /* dentries walked: deeper paths keep their last components */
#define WRT_PATH_BUF   512    /* the walk writes components right to left into this much */

/* The path buffer of one walk: components are prepended from the end. */
struct wrt_path_buf {
	char buf[WRT_PATH_BUF + WRT_STR_MAX];
	char name[WRT_STR_MAX];
};

/*
 * The path of (mnt, dentry), walked up to the task's root: written right to left ending at
 * buf[WRT_PATH_BUF - 1] (a NUL); returns where it starts. A walk deeper than WRT_PATH_DEPTH keeps its last
 * components; a path that leaves the task's root (a mount outside it) ends at the global root.
 */
static __always_inline __u32 wrt_path_walk(struct wrt_path_buf *pb, struct vfsmount___wrt *vmnt, struct dentry___wrt *d)
{
	struct task_struct___wrt *task = (struct task_struct___wrt *)bpf_get_current_task();
	struct dentry___wrt *root_d = BPF_CORE_READ(task, fs, root.dentry);
	struct vfsmount___wrt *root_m = BPF_CORE_READ(task, fs, root.mnt);
	struct mount___wrt *mnt = (struct mount___wrt *)((char *)vmnt - bpf_core_field_offset(struct mount___wrt, mnt));
	__u32 pos = WRT_PATH_BUF - 1;
	pb->buf[WRT_PATH_BUF - 1] = 0;
	for (int i = 0; i < WRT_PATH_DEPTH; i++) {
		if (d == root_d && vmnt == root_m)
			break;
		struct dentry___wrt *mnt_root = BPF_CORE_READ(vmnt, mnt_root);
		struct dentry___wrt *parent = BPF_CORE_READ(d, d_parent);
		if (d == mnt_root || d == parent) {
			/* The root of a mount: continue at its mountpoint in the parent mount, or stop at the top. */
			struct mount___wrt *mp = BPF_CORE_READ(mnt, mnt_parent);
			if (d != mnt_root || mp == mnt)
				break;
			d = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = mp;
			vmnt = (struct vfsmount___wrt *)((char *)mp + bpf_core_field_offset(struct mount___wrt, mnt));
			continue;
		}
		const unsigned char *name = BPF_CORE_READ(d, d_name.name);
		long n = bpf_probe_read_kernel_str(pb->name, WRT_STR_MAX, name);
		if (n <= 1)
			break;
		__u32 len = (__u32)(n - 1) & (WRT_STR_MAX - 1);
		if (len + 1 > pos)
			break;
		pos -= len;
		bpf_probe_read_kernel(pb->buf + (pos & (WRT_PATH_BUF - 1)), len, pb->name);
		pos -= 1;
		pb->buf[pos & (WRT_PATH_BUF - 1)] = '/';
		d = parent;
	}
	if (pos == WRT_PATH_BUF - 1) {
		pos -= 1;
		pb->buf[pos & (WRT_PATH_BUF - 1)] = '/';
	}
	return pos & (WRT_PATH_BUF - 1);
}

/* Copies the walked path into a string key (at most WRT_STR_MAX - 1 bytes, its beginning kept). */
static __always_inline __u32 wrt_path_copy(struct wrt_path_buf *pb, __u32 pos, char *out)
{
	__u32 len = (WRT_PATH_BUF - 1 - pos) & (WRT_PATH_BUF - 1);
	if (len > WRT_STR_MAX - 1)
		len = WRT_STR_MAX - 1;
	__builtin_memset(out, 0, WRT_STR_MAX);
	bpf_probe_read_kernel(out, len & (WRT_STR_MAX - 1), pb->buf + (pos & (WRT_PATH_BUF - 1)));
	return len;
}

static __always_inline __u32 wrt_read_path(struct wrt_path_buf *pb, const void *p, char *out)
{
	const struct path___wrt *path = p;
	__u32 pos = wrt_path_walk(pb, BPF_CORE_READ(path, mnt), BPF_CORE_READ(path, dentry));
	return wrt_path_copy(pb, pos, out);
}

static __always_inline __u32 wrt_read_file(struct wrt_path_buf *pb, const void *f, char *out)
{
	const struct file___wrt *file = f;
	__u32 pos = wrt_path_walk(pb, BPF_CORE_READ(file, f_path.mnt), BPF_CORE_READ(file, f_path.dentry));
	return wrt_path_copy(pb, pos, out);
}

/* The open file behind one of the calling task's descriptors, or NULL. */
static __always_inline const void *wrt_fd_file(__s64 fd)
{
	struct task_struct___wrt *task = (struct task_struct___wrt *)bpf_get_current_task();
	struct fdtable___wrt *fdt = BPF_CORE_READ(task, files, fdt);
	unsigned int max = BPF_CORE_READ(fdt, max_fds);
	if (fd < 0 || fd >= max)
		return NULL;
	struct file___wrt **fds = BPF_CORE_READ(fdt, fd);
	struct file___wrt *file = NULL;
	bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]);
	return file;
}

static __always_inline __u32 wrt_read_fd(struct wrt_path_buf *pb, __s64 fd, char *out)
{
	const void *file = wrt_fd_file(fd);
	if (!file) {
		__builtin_memset(out, 0, WRT_STR_MAX);
		return 0;
	}
	return wrt_read_file(pb, file, out);
}

/* A dentry's path within its filesystem (a dentry alone names no mount). */
static __always_inline __u32 wrt_read_dentry(struct wrt_path_buf *pb, const void *d, char *out)
{
	__u32 pos = WRT_PATH_BUF - 1;
	pb->buf[WRT_PATH_BUF - 1] = 0;
	struct dentry___wrt *cur = (struct dentry___wrt *)d;
	for (int i = 0; i < WRT_PATH_DEPTH; i++) {
		struct dentry___wrt *parent = BPF_CORE_READ(cur, d_parent);
		if (!parent || parent == cur)
			break;
		long n = bpf_probe_read_kernel_str(pb->name, WRT_STR_MAX, BPF_CORE_READ(cur, d_name.name));
		if (n <= 1)
			break;
		__u32 len = (__u32)(n - 1) & (WRT_STR_MAX - 1);
		if (len + 1 > pos)
			break;
		pos -= len;
		bpf_probe_read_kernel(pb->buf + (pos & (WRT_PATH_BUF - 1)), len, pb->name);
		pos -= 1;
		pb->buf[pos & (WRT_PATH_BUF - 1)] = '/';
		cur = parent;
	}
	if (pos == WRT_PATH_BUF - 1) {
		pos -= 1;
		pb->buf[pos & (WRT_PATH_BUF - 1)] = '/';
	}
	return wrt_path_copy(pb, pos, out);
}

/* A kernel string (a name field or a char pointer already read): its length without the NUL. */
static __always_inline __u32 wrt_read_kstr(const void *src, char *out)
{
	__builtin_memset(out, 0, WRT_STR_MAX);
	long n = bpf_probe_read_kernel_str(out, WRT_STR_MAX, src);
	return n > 0 ? (__u32)(n - 1) : 0;
}

static __always_inline __u32 wrt_read_binprm(const void *b, char *out)
{
	return wrt_read_kstr(BPF_CORE_READ((const struct linux_binprm___wrt *)b, filename), out);
}

static __always_inline void wrt_read_sock(const void *s, struct wrt_sock_facts *f)
{
	const struct sock___wrt *sk = s;
	__builtin_memset(f, 0, sizeof(*f));
	if (!sk)
		return;
	f->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	f->protocol = BPF_CORE_READ(sk, sk_protocol);
	f->state = BPF_CORE_READ(sk, __sk_common.skc_state);
	f->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	f->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (f->family == WRT_AF_INET6) {
		BPF_CORE_READ_INTO(&f->saddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&f->daddr, sk, __sk_common.skc_v6_daddr);
	} else {
		__u32 a = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr), b = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		__builtin_memcpy(f->saddr, &a, 4);
		__builtin_memcpy(f->daddr, &b, 4);
	}
}

static __always_inline void wrt_read_socket(const void *s, struct wrt_sock_facts *f)
{
	wrt_read_sock(BPF_CORE_READ((const struct socket___wrt *)s, sk), f);
}

/* A struct sockaddr (a kernel copy): family, and the address and port as SAddr/SPort, as Tetragon reads them. */
static __always_inline void wrt_read_sockaddr(const void *sa, struct wrt_sock_facts *f)
{
	__u8 raw[24] = {};
	__builtin_memset(f, 0, sizeof(*f));
	if (bpf_probe_read_kernel(raw, sizeof(raw), sa))
		return;
	f->family = raw[0] | raw[1] << 8;
	f->sport = raw[2] << 8 | raw[3];
	if (f->family == WRT_AF_INET)
		__builtin_memcpy(f->saddr, raw + 4, 4);
	else if (f->family == WRT_AF_INET6)
		__builtin_memcpy(f->saddr, raw + 8, 16);
}

/* An skb's IP and L4 headers (as set when it is built or received). */
static __always_inline void wrt_read_skb(const void *s, struct wrt_sock_facts *f)
{
	const struct sk_buff___wrt *skb = s;
	__builtin_memset(f, 0, sizeof(*f));
	unsigned char *head = BPF_CORE_READ(skb, head);
	__u16 nh = BPF_CORE_READ(skb, network_header), th = BPF_CORE_READ(skb, transport_header);
	__u8 ip[40] = {};
	if (bpf_probe_read_kernel(ip, sizeof(ip), head + nh))
		return;
	__u8 ports[4] = {};
	if ((ip[0] >> 4) == 4) {
		f->family = WRT_AF_INET;
		f->protocol = ip[9];
		__builtin_memcpy(f->saddr, ip + 12, 4);
		__builtin_memcpy(f->daddr, ip + 16, 4);
	} else if ((ip[0] >> 4) == 6) {
		f->family = WRT_AF_INET6;
		f->protocol = ip[6];
		__builtin_memcpy(f->saddr, ip + 8, 16);
		__builtin_memcpy(f->daddr, ip + 24, 16);
	} else {
		return;
	}
	if (th != 0xffff && !bpf_probe_read_kernel(ports, sizeof(ports), head + th)) {
		f->sport = ports[0] << 8 | ports[1];
		f->dport = ports[2] << 8 | ports[3];
	}
}

/* A cred's capability set (WRT_CAP_*). */
static __always_inline __u64 wrt_read_cred_caps(const void *c, __u32 kind)
{
	const struct cred___wrt *cred = c;
	if (kind == WRT_CAP_PERMITTED)
		return BPF_CORE_READ(cred, cap_permitted.val);
	if (kind == WRT_CAP_INHERITABLE)
		return BPF_CORE_READ(cred, cap_inheritable.val);
	return BPF_CORE_READ(cred, cap_effective.val);
}

/* The prefix-trie key of a socket's source (WRT_OP_SADDR) or destination address: family byte, then the address. */
static __always_inline void wrt_addr_key(const struct wrt_sock_facts *f, bool dst, struct wrt_lpm_key *k, __u32 set_id)
{
	k->set_id = set_id;
	k->str[0] = f->family == WRT_AF_INET6 ? 6 : 4;
	__builtin_memcpy(&k->str[1], dst ? f->daddr : f->saddr, 16);
	k->prefixlen = 32 + 8 + (f->family == WRT_AF_INET6 ? 128 : 32);
}

/* The number a numeric socket operator compares (family, protocol, state, a port); false for the others. */
static __always_inline bool wrt_sock_field(__u32 op, const struct wrt_sock_facts *f, __u64 *x)
{
	switch (op) {
	case WRT_OP_FAMILY: *x = f->family; return true;
	case WRT_OP_PROTOCOL: *x = f->protocol; return true;
	case WRT_OP_STATE: *x = f->state; return true;
	case WRT_OP_SPORT:
	case WRT_OP_NOT_SPORT: *x = f->sport; return true;
	case WRT_OP_DPORT:
	case WRT_OP_NOT_DPORT: *x = f->dport; return true;
	}
	return false;
}

/* Whether an operator tests the destination address (else the source) when it tests an address at all. */
static __always_inline bool wrt_sock_op_dst(__u32 op)
{
	return op == WRT_OP_DADDR || op == WRT_OP_NOT_DADDR;
}

/*
 * A socket operator on the facts. `addr_hit`: the prefix-trie lookup of wrt_addr_key for an address operator;
 * `set_hit`: the numeric-set lookup of wrt_sock_field's value when the filter has a set (the caller owns the maps).
 */
static __always_inline bool wrt_sock_match(__u32 op, const struct wrt_sock_facts *f, const struct wrt_match_arg *m, bool addr_hit,
					   bool set_hit)
{
	__u64 x = 0;
	switch (op) {
	case WRT_OP_SPORT_PRIV: return f->sport < 1024;
	case WRT_OP_NOT_SPORT_PRIV: return f->sport >= 1024;
	case WRT_OP_DPORT_PRIV: return f->dport < 1024;
	case WRT_OP_NOT_DPORT_PRIV: return f->dport >= 1024;
	case WRT_OP_SADDR:
	case WRT_OP_DADDR: return addr_hit;
	case WRT_OP_NOT_SADDR:
	case WRT_OP_NOT_DADDR: return !addr_hit;
	}
	if (!wrt_sock_field(op, f, &x))
		return false;
	bool hit = false;
	if (m->set_id)
		hit = set_hit;
	else
		for (int i = 0; i < WRT_MAX_VALUES; i++)
			if (i < m->nvals && m->vals[i] == x)
				hit = true;
	return (op == WRT_OP_NOT_SPORT || op == WRT_OP_NOT_DPORT) ? !hit : hit;
}

#endif /* WRT_ARGS_H */
