// Hooks on kernel functions: the attach point each node gets, the argument types and socket operators, return
// values and Override, answered by the image evaluator over the encoded selector tables.
import { describe, expect, it } from 'vitest';
import { K, siteNumber } from '../../bpf/abi/runtime.js';
import { capabilityProfiles, type NodeCapabilities } from '../../compiler/lower/runtime/capabilities.js';
import { RuntimeImageEvaluator, type ArgValue } from '../../compiler/verify/runtime-emulator.js';
import { compileText } from './helpers.js';

const full = capabilityProfiles['full']!;
const tpOnly = capabilityProfiles['tracepoint-only']!;
const kprobeOnly: NodeCapabilities = { ...full, fentry: false, lsm: false };

const policy = (body: string) => `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: t
spec:
${body}`;

function compiled(text: string, caps: NodeCapabilities = full) {
  const r = compileText(text, caps);
  expect(r.errors).toEqual([]);
  const n = r.nodes[0]!;
  const ev = new RuntimeImageEvaluator(n.images, n.lowered.table);
  return {
    attach: n.lowered.attach,
    table: n.lowered.table,
    verdict: (call: string, args: ArgValue[], ret?: ArgValue, binary = '/usr/bin/curl') => {
      const nr = ev.siteOf(call);
      expect(nr, call).toBeDefined();
      return ev.evaluate({ binary }, nr!, args, ret);
    },
  };
}

const fileOpen = policy(`  kprobes:
  - call: security_file_open
    syscall: false
    args:
    - {index: 0, type: file}
    selectors:
    - matchArgs:
      - {index: 0, operator: Prefix, values: [/etc/]}
      - {index: 0, operator: NotPostfix, values: [.conf]}
`);

describe('attach point per node', () => {
  it('fentry where the node has it, else kprobe; the table names it and the site key', () => {
    const f = compiled(fileOpen);
    expect(f.attach).toEqual(['fentry/security_file_open']);
    // The site number is a hash of the attach point: stable across policy generations.
    expect(f.table[0]).toMatchObject({
      call: 'security_file_open',
      attach: 'fentry/security_file_open',
      site: K.SITE_BASE + siteNumber('fentry/security_file_open'),
    });
    expect(siteNumber('fentry/security_file_open')).toBe(siteNumber('fentry/security_file_open'));
    expect(siteNumber('fentry/security_file_open')).not.toBe(siteNumber('kprobe/security_file_open'));
    expect(siteNumber('kprobe/x')).toBeLessThan(0x40000000);
    expect(compiled(fileOpen, kprobeOnly).attach).toEqual(['kprobe/security_file_open']);
  });

  it('a tracepoint-only node refuses it, naming what it lacks', () => {
    expect(compileText(fileOpen, tpOnly).errors.join('\n')).toMatch(
      /node-capability: node local: kprobe on kernel function security_file_open needs kprobe or fentry attach, which this node lacks \(kprobe programs load but cannot attach\)/,
    );
  });

  it('matchReturnArgs puts the hook at the return: fexit, else kretprobe', () => {
    const text = policy(`  kprobes:
  - call: tcp_connect
    syscall: false
    return: true
    args:
    - {index: 0, type: sock}
    returnArg: {index: 0, type: int}
    selectors:
    - matchReturnArgs:
      - {index: 0, operator: NotEqual, values: [0]}
`);
    expect(compiled(text).attach).toEqual(['fexit/tcp_connect']);
    const k = compiled(text, kprobeOnly);
    expect(k.attach).toEqual(['kretprobe/tcp_connect']);
    expect(k.verdict('tcp_connect', [{}], -111).verdict).toBe('post');
    expect(k.verdict('tcp_connect', [{}], 0).verdict).toBe('allow');
  });

  it('BPF LSM hooks need bpf in the active LSM list', () => {
    const text = policy(`  lsmhooks:
  - hook: file_open
    args:
    - {index: 0, type: file}
    selectors:
    - matchArgs:
      - {index: 0, operator: Equal, values: [/etc/shadow]}
      matchActions:
      - {action: Override, argError: -13}
`);
    const f = compiled(text);
    expect(f.attach).toEqual(['lsm/file_open']);
    expect(f.verdict('file_open', ['/etc/shadow'])).toMatchObject({ verdict: 'override', errno: -13 });
    expect(f.verdict('lsm/file_open', ['/etc/passwd']).verdict).toBe('allow');
    expect(compileText(text, kprobeOnly).errors.join('\n')).toMatch(/LSM hook file_open needs BPF LSM/);
  });

  it('raw tracepoints read kernel arguments (linux_binprm of sched_process_exec)', () => {
    const f = compiled(
      policy(`  tracepoints:
  - subsystem: sched
    event: sched_process_exec
    raw: true
    args:
    - {index: 2, type: linux_binprm}
    selectors:
    - matchArgs:
      - {index: 0, operator: Postfix, values: [/nc]}
`),
      tpOnly,
    );
    expect(f.attach).toEqual(['raw_tp/sched_process_exec']);
    expect(f.verdict('sched_process_exec', [0, 0, '/usr/bin/nc']).verdict).toBe('post');
    expect(f.verdict('sched_process_exec', [0, 0, '/usr/bin/ls']).verdict).toBe('allow');
  });
});

describe('Override', () => {
  const override = (fn: string) =>
    policy(`  kprobes:
  - call: ${fn}
    syscall: false
    selectors:
    - matchBinaries:
      - {operator: In, values: [/usr/bin/bash]}
      matchActions:
      - {action: Override, argError: -1}
`);
  it('on a function of the node list: a kprobe with bpf_override_return', () => {
    const f = compiled(override('should_failslab'));
    expect(f.attach).toEqual(['kprobe_override/should_failslab']);
    expect(f.verdict('should_failslab', [], undefined, '/usr/bin/bash')).toMatchObject({ verdict: 'override', errno: -1 });
    expect(f.verdict('should_failslab', [], undefined, '/usr/bin/zsh').verdict).toBe('allow');
    const own = compiled(override('my_func'), { ...full, errorInjection: ['my_func'] });
    expect(own.attach).toEqual(['kprobe_override/my_func']);
  });
  it('elsewhere: a compile error naming the function', () => {
    expect(compileText(override('tcp_connect'), full).errors.join('\n')).toMatch(
      /override-not-injectable: node local: Override on tcp_connect: the function is not in the node's error-injection list \(weir's built-in list/,
    );
    expect(compileText(override('should_failslab'), { ...full, errorInjection: ['other'] }).errors.join('\n')).toMatch(
      /Override on should_failslab: the function is not in the node's error-injection list \(the node's \/sys\/kernel\/debug\/error_injection\/list\)/,
    );
  });
  it('security_* functions take an fmod_ret program where the node has fentry', () => {
    expect(compiled(override('security_inode_mkdir')).attach).toEqual(['fmod_ret/security_inode_mkdir']);
    expect(compileText(override('security_inode_mkdir'), kprobeOnly).errors.join('\n')).toMatch(
      /Override on security_inode_mkdir: .* and the node has no fentry support for an fmod_ret program/,
    );
  });
});

describe('argument types and operators', () => {
  it('file paths: Prefix and NotPostfix', () => {
    const f = compiled(fileOpen);
    expect(f.verdict('security_file_open', ['/etc/shadow']).verdict).toBe('post');
    expect(f.verdict('security_file_open', ['/etc/nginx.conf']).verdict).toBe('allow');
    expect(f.verdict('security_file_open', ['/tmp/x']).verdict).toBe('allow');
  });

  it('socket operators on sock: Family, Protocol, DAddr CIDRs (v4 and v6), NotDAddr, DPort, NotSPort, DPortPriv, State', () => {
    const f = compiled(
      policy(`  kprobes:
  - call: tcp_connect
    syscall: false
    args:
    - {index: 0, type: sock}
    selectors:
    - matchArgs:
      - {index: 0, operator: Family, values: [AF_INET, AF_INET6]}
      - {index: 0, operator: Protocol, values: [IPPROTO_TCP]}
      - {index: 0, operator: DAddr, values: [10.0.0.0/8, "fd00::/8", 192.168.1.7]}
      - {index: 0, operator: DPort, values: [80, 443]}
      - {index: 0, operator: NotSPort, values: [22]}
    - matchArgs:
      - {index: 0, operator: NotDAddr, values: [127.0.0.0/8, "::1"]}
      - {index: 0, operator: DPortPriv}
      - {index: 0, operator: State, values: [TCP_SYN_SENT]}
      matchActions:
      - {action: Sigkill}
      matchBinaries:
      - {operator: In, values: [/usr/bin/curl]}
`),
    );
    const tcp = { family: 2, protocol: 6, sport: 40000, state: 2 };
    expect(f.verdict('tcp_connect', [{ ...tcp, daddr: '10.1.2.3', dport: 443 }]).verdict).toBe('post');
    expect(f.verdict('tcp_connect', [{ ...tcp, family: 10, daddr: 'fd12::1', dport: 80 }]).verdict).toBe('post');
    expect(f.verdict('tcp_connect', [{ ...tcp, daddr: '192.168.1.7', dport: 80 }]).verdict).toBe('post');
    // 192.168.1.8 is outside the /32 and 11.0.0.1 outside 10/8: the second selector decides (privileged port, SYN_SENT).
    expect(f.verdict('tcp_connect', [{ ...tcp, daddr: '192.168.1.8', dport: 80 }]).verdict).toBe('kill');
    expect(f.verdict('tcp_connect', [{ ...tcp, daddr: '11.0.0.1', dport: 8080 }]).verdict).toBe('allow');
    expect(f.verdict('tcp_connect', [{ ...tcp, daddr: '127.0.0.1', dport: 25 }]).verdict).toBe('allow');
    expect(f.verdict('tcp_connect', [{ ...tcp, daddr: '10.0.0.1', dport: 443, sport: 22 }]).verdict).toBe('kill');
    expect(f.verdict('tcp_connect', [{ ...tcp, protocol: 17, daddr: '10.0.0.1', dport: 443 }]).verdict).toBe('kill');
    expect(f.verdict('tcp_connect', [{ ...tcp, protocol: 17, daddr: '10.0.0.1', dport: 443, state: 1 }]).verdict).toBe('allow');
  });

  it('sockaddr: SAddr and SPort (the address connected to), NotSAddr', () => {
    const f = compiled(
      policy(`  kprobes:
  - call: security_socket_connect
    syscall: false
    args:
    - {index: 1, type: sockaddr}
    selectors:
    - matchArgs:
      - {index: 1, operator: SAddr, values: [1.1.1.1]}
      - {index: 1, operator: SPort, values: [53]}
    - matchArgs:
      - {index: 1, operator: NotSAddr, values: [0.0.0.0/0, "::/0"]}
      matchActions:
      - {action: NoPost}
`),
    );
    expect(f.verdict('security_socket_connect', [0, { family: 2, saddr: '1.1.1.1', sport: 53 }]).verdict).toBe('post');
    expect(f.verdict('security_socket_connect', [0, { family: 2, saddr: '1.1.1.2', sport: 53 }]).verdict).toBe('allow');
  });

  it('char_buf compares the bytes its size argument counts; fd resolves to a path', () => {
    const f = compiled(
      policy(`  kprobes:
  - call: sys_write
    syscall: true
    args:
    - {index: 0, type: fd}
    - {index: 1, type: char_buf, sizeArgIndex: 3}
    - {index: 2, type: size_t}
    selectors:
    - matchArgs:
      - {index: 0, operator: Prefix, values: [/dev/pts/]}
      - {index: 1, operator: Equal, values: [secret]}
`),
      kprobeOnly,
    );
    expect(f.attach).toEqual(['kprobe/__x64_sys_write']);
    expect(f.verdict('sys_write', ['/dev/pts/1', 'secret and more', 6]).verdict).toBe('post');
    expect(f.verdict('sys_write', ['/dev/pts/1', 'secret and more', 15]).verdict).toBe('allow');
    expect(f.verdict('sys_write', ['/tmp/log', 'secret', 6]).verdict).toBe('allow');
  });

  it('wrong operator for the type, reported-only types, bad addresses: errors at the value', () => {
    const bad = (args: string, match: string) =>
      compileText(
        policy(`  kprobes:
  - call: tcp_connect
    syscall: false
    args:
${args}
    selectors:
    - matchArgs:
${match}
`),
        full,
      ).errors.join('\n');
    expect(bad('    - {index: 0, type: file}', '      - {index: 0, operator: DAddr, values: [10.0.0.0/8]}')).toMatch(
      /operator DAddr applies to sock, skb, sockaddr and socket arguments of kernel functions; argument 0 is file/,
    );
    expect(bad('    - {index: 0, type: sock}', '      - {index: 0, operator: Prefix, values: [x]}')).toMatch(
      /operator Prefix does not apply to sock arguments/,
    );
    expect(bad('    - {index: 0, type: cred}', '      - {index: 0, operator: Equal, values: [0]}')).toMatch(
      /cred arguments are reported in events, not compared/,
    );
    expect(bad('    - {index: 0, type: sock}', '      - {index: 0, operator: DAddr, values: [10.0.0.0/33]}')).toMatch(
      /DAddr: "10.0.0.0\/33": the prefix length must be 0 to 32/,
    );
    expect(bad('    - {index: 0, type: sock}', '      - {index: 0, operator: Family, values: [AF_BOGUS]}')).toMatch(
      /Family value "AF_BOGUS" is not a number or one of AF_UNSPEC/,
    );
  });
});

describe('plan', () => {
  it('names the attach point chosen for each node', async () => {
    const { loadSources } = await import('../../compiler/load/index.js');
    const { runtimeAttachPoints } = await import('../../compiler/plan/runtime.js');
    const docs = loadSources([{ file: 'p.yaml', bytes: Buffer.from(fileOpen) }]).documents;
    expect(
      runtimeAttachPoints(docs, [
        { name: 'a', labels: { 'weir.dev/runtime-profile': 'full' } },
        {
          name: 'b',
          labels: { 'weir.dev/runtime-capabilities': 'tracepoints,rawSyscalls,kprobes,kprobeAttach,sendSignal,ringbuf,mapInMap' },
        },
        { name: 'c', labels: {} },
      ]),
    ).toEqual([
      { node: 'a', profile: 'full', policy: 't', call: 'security_file_open', attach: 'fentry/security_file_open', file: 'p.yaml', line: 7 },
      {
        node: 'b',
        profile: 'custom',
        policy: 't',
        call: 'security_file_open',
        attach: 'kprobe/security_file_open',
        file: 'p.yaml',
        line: 7,
      },
    ]);
  });
});

describe('user namespaces', () => {
  it('matchNamespaces User and isNamespaceCapability (no match in the host user namespace, as Tetragon)', () => {
    const r = compileText(
      policy(`  kprobes:
  - call: fd_install
    syscall: false
    selectors:
    - matchCapabilities:
      - {type: Effective, operator: In, isNamespaceCapability: true, values: [CAP_NET_RAW]}
    - matchNamespaces:
      - {namespace: User, operator: NotIn, values: [host_ns]}
      matchActions:
      - {action: NoPost}
`),
      full,
    );
    expect(r.errors).toEqual([]);
    const n = r.nodes[0]!;
    const ev = new RuntimeImageEvaluator(n.images, n.lowered.table);
    const U = K.NS['User']!;
    const host = { hostNamespaces: { [U]: 100 } };
    const verdict = (userNs: number, caps: bigint) =>
      ev.evaluate({ binary: '/bin/x', ...host, namespaces: { [U]: userNs }, capEffective: caps }, ev.siteOf('fd_install')!, []);
    const raw = 1n << 13n;
    expect(verdict(100, raw).verdict).toBe('allow');
    expect(verdict(100, raw).matches).toEqual([]);
    expect(verdict(200, raw).verdict).toBe('post');
    // In a user namespace without the capability: the second selector (NotIn host_ns) matches and does not post.
    expect(verdict(200, 0n)).toMatchObject({ verdict: 'allow', matches: [{ selector: 1, posted: false }] });
  });
});

describe('socket operator value names', () => {
  it('are every address family and IP protocol Linux names, as Tetragon reads them', async () => {
    const { socketValueNames } = await import('../../compiler/lower/runtime/kernel-args.js');
    expect(socketValueNames['Family']!['AF_VSOCK']).toBe(40);
    expect(socketValueNames['Family']!['AF_XDP']).toBe(44);
    expect(socketValueNames['Family']!['AF_INET6']).toBe(10);
    expect(socketValueNames['Protocol']!['IPPROTO_IGMP']).toBe(2);
    expect(socketValueNames['Protocol']!['IPPROTO_MPTCP']).toBe(262);
    // Tetragon knows AF_UNIX for 1, not the AF_LOCAL alias.
    expect(socketValueNames['Family']!['AF_LOCAL']).toBeUndefined();
  });
});
