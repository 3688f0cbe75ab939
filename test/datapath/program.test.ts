// The tc endpoint program under BPF_PROG_TEST_RUN: parsing, ipcache, the two policy lookups and the
// winner rule, verdict enforcement (allow, deny, default deny, audit, L7 redirect mark) and events.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageError, NetDatapath, type NetEvent } from '../../bpf/net/loader.js';
import { IPPROTO } from '../../bpf/packet.js';
import { skipKernel } from '../kernel-env.js';
import { ensureBuilt } from './helpers.js';
import { ipcacheImage, policyImage, run, type PolicyEntry } from './fixtures.js';

const EP = 7;
const EP_ID = 300;
const { TCP, UDP, SCTP, ICMP, ICMPV6 } = IPPROTO;
const ME = '10.0.0.10';
const ME6 = 'fd00::10';

const rules: PolicyEntry[] = [
  // from identity 301: TCP/80 allowed (full key)
  { prefixlen: 64, identity: 301, direction: 'ingress', protocol: TCP, port: 80, verdict: 'allow', cookie: 1 },
  // from anyone: TCP/22 denied, even if 301 is allowed everything below
  { prefixlen: 64, identity: 0, direction: 'ingress', protocol: TCP, port: 22, verdict: 'deny', cookie: 2 },
  { prefixlen: 40, identity: 301, direction: 'ingress', protocol: 0, port: 0, verdict: 'allow', cookie: 3 },
  // from 302: TCP/8080 goes through the L7 proxy on 15001
  { prefixlen: 64, identity: 302, direction: 'ingress', protocol: TCP, port: 8080, verdict: 'redirect', proxyPort: 15001, cookie: 4 },
  // to anyone: any UDP port (DNS and more)
  { prefixlen: 48, identity: 0, direction: 'egress', protocol: UDP, port: 0, verdict: 'allow', cookie: 5 },
  // to 301: TCP ports 1024-2047 as one prefix block (top 6 bits)
  { prefixlen: 54, identity: 301, direction: 'egress', protocol: TCP, port: 1024, verdict: 'allow', cookie: 6 },
  // tie-break on prefix length: 302 any TCP (allow, prec 1) vs anyone TCP/443 (redirect, prec 1): the longer wins
  { prefixlen: 48, identity: 302, direction: 'egress', protocol: TCP, port: 0, verdict: 'allow', precedence: 1, cookie: 7 },
  {
    prefixlen: 64,
    identity: 0,
    direction: 'egress',
    protocol: TCP,
    port: 443,
    verdict: 'redirect',
    proxyPort: 15002,
    precedence: 1,
    cookie: 8,
  },
  // precedence: anyone TCP/9000 allow prec 10 beats 302 TCP/9000 redirect prec 2
  { prefixlen: 64, identity: 0, direction: 'egress', protocol: TCP, port: 9000, verdict: 'allow', precedence: 10, cookie: 9 },
  {
    prefixlen: 64,
    identity: 302,
    direction: 'egress',
    protocol: TCP,
    port: 9000,
    verdict: 'redirect',
    proxyPort: 15003,
    precedence: 2,
    cookie: 10,
  },
  // audit-mode deny: allowed and reported
  { prefixlen: 64, identity: 0, direction: 'ingress', protocol: TCP, port: 23, verdict: 'deny', audit: true, cookie: 11 },
  // SCTP and ICMP (type as port)
  { prefixlen: 64, identity: 301, direction: 'egress', protocol: SCTP, port: 5000, verdict: 'allow', cookie: 12 },
  { prefixlen: 64, identity: 0, direction: 'ingress', protocol: ICMP, port: 8, verdict: 'allow', cookie: 13 },
  { prefixlen: 64, identity: 0, direction: 'ingress', protocol: ICMPV6, port: 128, verdict: 'allow', cookie: 14 },
];

const ipcache: [string, number][] = [
  ['10.0.0.2/32', 301],
  ['10.0.1.0/24', 302],
  ['fd00::2/128', 301],
  ['fd00:1::/64', 302],
];

describe.skipIf(skipKernel())('endpoint tc program (BPF_PROG_TEST_RUN)', () => {
  let dp: NetDatapath;
  const events: NetEvent[] = [];

  beforeAll(() => {
    ensureBuilt();
    dp = NetDatapath.open();
    dp.setEndpoint(1, { endpointId: EP, identity: EP_ID, flags: 3 });
    dp.applyImages([ipcacheImage(ipcache), policyImage(EP, rules)]);
  });
  afterAll(() => dp?.close());

  const cases: [string, 'ingress' | 'egress', string, string, number, number, 'allow' | 'drop', number?][] = [
    ['L3/L4 allow from 301 to TCP/80', 'ingress', '10.0.0.2', ME, TCP, 80, 'allow'],
    ['301 is allowed any other port too (L3-only rule)', 'ingress', '10.0.0.2', ME, UDP, 5353, 'allow'],
    ['deny for anyone on TCP/22 beats the L3 allow of 301', 'ingress', '10.0.0.2', ME, TCP, 22, 'drop'],
    ['world on TCP/80 has no rule: default deny', 'ingress', '192.0.2.1', ME, TCP, 80, 'drop'],
    ['302 on TCP/8080: redirect to proxy 15001', 'ingress', '10.0.1.9', ME, TCP, 8080, 'allow', 15001],
    ['302 on TCP/8081: default deny', 'ingress', '10.0.1.9', ME, TCP, 8081, 'drop'],
    ['egress UDP anywhere', 'egress', ME, '198.51.100.7', UDP, 53, 'allow'],
    ['egress TCP/1500 to 301 inside the 1024-2047 block', 'egress', ME, '10.0.0.2', TCP, 1500, 'allow'],
    ['egress TCP/2048 to 301 outside the block', 'egress', ME, '10.0.0.2', TCP, 2048, 'drop'],
    ['egress TCP/1023 to 301 below the block', 'egress', ME, '10.0.0.2', TCP, 1023, 'drop'],
    ['equal precedence: the longer prefix (anyone TCP/443 redirect) wins', 'egress', ME, '10.0.1.5', TCP, 443, 'allow', 15002],
    ['302 other TCP port: its own L4 rule', 'egress', ME, '10.0.1.5', TCP, 444, 'allow', 0],
    ['higher precedence wins over identity specificity', 'egress', ME, '10.0.1.5', TCP, 9000, 'allow', 0],
    ['audit-mode deny is allowed', 'ingress', '192.0.2.1', ME, TCP, 23, 'allow'],
    ['SCTP/5000 to 301', 'egress', ME, '10.0.0.2', SCTP, 5000, 'allow'],
    ['SCTP/5001 to 301', 'egress', ME, '10.0.0.2', SCTP, 5001, 'drop'],
    ['ICMP echo request from world', 'ingress', '192.0.2.1', ME, ICMP, 8, 'allow'],
    ['ICMP timestamp from world', 'ingress', '192.0.2.1', ME, ICMP, 13, 'drop'],
    ['IPv6 TCP/80 from 301', 'ingress', 'fd00::2', ME6, TCP, 80, 'allow'],
    ['IPv6 TCP/22 from 301 denied', 'ingress', 'fd00::2', ME6, TCP, 22, 'drop'],
    ['IPv6 TCP/8080 from 302 prefix: redirect', 'ingress', 'fd00:1::77', ME6, TCP, 8080, 'allow', 15001],
    ['ICMPv6 echo request from world', 'ingress', '2001:db8::1', ME6, ICMPV6, 128, 'allow'],
    ['IPv6 world TCP/80: default deny', 'ingress', '2001:db8::1', ME6, TCP, 80, 'drop'],
  ];

  it.each(cases)('%s', (_name, dir, saddr, daddr, protocol, dport, verdict, proxy) => {
    const r = run(dp, dir, { saddr, daddr, protocol, dport });
    expect(r.verdict).toBe(verdict);
    if (proxy !== undefined) expect(r.mark).toBe(proxy === 0 ? 0 : ((proxy << 16) | 0x0200) >>> 0);
  });

  it('gives the same verdicts with the verdict cache off (both lookups every packet)', () => {
    dp.setVerdictCache(false);
    try {
      for (const [name, dir, saddr, daddr, protocol, dport, verdict, proxy] of cases) {
        const r = run(dp, dir, { saddr, daddr, protocol, dport });
        expect([name, r.verdict, proxy === undefined ? undefined : r.mark >>> 16]).toEqual([name, verdict, proxy]);
      }
    } finally {
      dp.setVerdictCache(true);
    }
  });

  it('reports drops and audits with cookie, identities and 5-tuple', () => {
    using rb = dp.events((e) => events.push(e));
    rb.consume(); // earlier cases' events
    events.length = 0;
    run(dp, 'ingress', { saddr: '10.0.0.2', daddr: ME, protocol: TCP, sport: 41000, dport: 22 });
    run(dp, 'ingress', { saddr: '192.0.2.1', daddr: ME, protocol: TCP, sport: 41001, dport: 23 });
    run(dp, 'egress', { saddr: ME, daddr: '10.0.0.2', protocol: TCP, sport: 41002, dport: 4000 });
    rb.consume();
    expect(
      events.map((e) => ({
        cookie: e.cookie,
        reason: e.reason,
        audit: e.audit,
        dir: e.direction,
        src: e.srcIdentity,
        dst: e.dstIdentity,
        sport: e.sport,
        dport: e.dport,
        saddr: e.saddr,
        daddr: e.daddr,
        proto: e.protocol,
        ep: e.endpointId,
      })),
    ).toEqual([
      {
        cookie: 2,
        reason: 'policy-deny',
        audit: false,
        dir: 'ingress',
        src: 301,
        dst: EP_ID,
        sport: 41000,
        dport: 22,
        saddr: '10.0.0.2',
        daddr: ME,
        proto: TCP,
        ep: EP,
      },
      {
        cookie: 11,
        reason: 'policy-deny',
        audit: true,
        dir: 'ingress',
        src: 2,
        dst: EP_ID,
        sport: 41001,
        dport: 23,
        saddr: '192.0.2.1',
        daddr: ME,
        proto: TCP,
        ep: EP,
      },
      {
        cookie: 0,
        reason: 'default-deny',
        audit: false,
        dir: 'egress',
        src: EP_ID,
        dst: 301,
        sport: 41002,
        dport: 4000,
        saddr: ME,
        daddr: '10.0.0.2',
        proto: TCP,
        ep: EP,
      },
    ]);
  });

  it('lets traffic pass where the direction is not enforced, and audits default deny in audit mode', () => {
    dp.setEndpoint(1, { endpointId: EP, identity: EP_ID, flags: 1 }); // ingress only
    try {
      expect(run(dp, 'egress', { saddr: ME, daddr: '192.0.2.1', protocol: TCP, dport: 4000 }).verdict).toBe('allow');
      expect(run(dp, 'ingress', { saddr: '192.0.2.1', daddr: ME, protocol: TCP, dport: 4000 }).verdict).toBe('drop');
      dp.setEndpoint(1, { endpointId: EP, identity: EP_ID, flags: 1 | 4 });
      expect(run(dp, 'ingress', { saddr: '192.0.2.1', daddr: ME, protocol: TCP, dport: 4000 }).verdict).toBe('allow');
    } finally {
      dp.setEndpoint(1, { endpointId: EP, identity: EP_ID, flags: 3 });
    }
  });

  it('lets replies of an allowed flow through (connection tracking), and only those', () => {
    const dns = { saddr: ME, daddr: '198.51.100.7', protocol: UDP, sport: 41001, dport: 53 };
    const reply = { saddr: '198.51.100.7', daddr: ME, protocol: UDP, sport: 53, dport: 41001 };
    const stranger = { ...reply, dport: 41002 };
    expect(run(dp, 'ingress', reply).verdict).toBe('drop'); // no flow yet: world has no ingress rule
    expect(run(dp, 'egress', dns).verdict).toBe('allow');
    expect(run(dp, 'ingress', reply).verdict).toBe('allow');
    expect(run(dp, 'ingress', stranger).verdict).toBe('drop');
    dp.setConntrack(false);
    try {
      expect(run(dp, 'ingress', reply).verdict).toBe('drop');
    } finally {
      dp.setConntrack(true);
    }
  });

  it('pairs ICMP echo replies with their requests (identifier as the port), IPv4 and IPv6', () => {
    // Egress ICMP is not allowed by any rule here; make the endpoint egress-open to send the request.
    dp.setEndpoint(1, { endpointId: EP, identity: EP_ID, flags: 1 });
    try {
      const reply = { saddr: '192.0.2.44', daddr: ME, protocol: ICMP, sport: 0x1234, dport: 0 };
      expect(run(dp, 'ingress', reply).verdict).toBe('drop'); // echo reply without a request
      expect(run(dp, 'egress', { saddr: ME, daddr: '192.0.2.44', protocol: ICMP, sport: 0x1234, dport: 8 }).verdict).toBe('allow');
      expect(run(dp, 'ingress', reply).verdict).toBe('allow');
      expect(run(dp, 'ingress', { ...reply, sport: 0x1235 }).verdict).toBe('drop'); // another identifier
      const reply6 = { saddr: '2001:db8::44', daddr: ME6, protocol: ICMPV6, sport: 7, dport: 129 };
      expect(run(dp, 'ingress', reply6).verdict).toBe('drop');
      expect(run(dp, 'egress', { saddr: ME6, daddr: '2001:db8::44', protocol: ICMPV6, sport: 7, dport: 128 }).verdict).toBe('allow');
      expect(run(dp, 'ingress', reply6).verdict).toBe('allow');
    } finally {
      dp.setEndpoint(1, { endpointId: EP, identity: EP_ID, flags: 3 });
    }
  });

  it('leaves non-endpoints and non-IP traffic alone', () => {
    dp.removeEndpoint(1);
    try {
      expect(run(dp, 'ingress', { saddr: '192.0.2.1', daddr: ME, protocol: TCP, dport: 4000 }).verdict).toBe('allow');
    } finally {
      dp.setEndpoint(1, { endpointId: EP, identity: EP_ID, flags: 3 });
    }
  });

  it('swaps the policy slot: the next packet sees the new policy', () => {
    const pkt = { saddr: '192.0.2.1', daddr: ME, protocol: TCP, dport: 4000 } as const;
    expect(run(dp, 'ingress', pkt).verdict).toBe('drop');
    const report = dp.applyImages([
      policyImage(EP, [
        ...rules,
        { prefixlen: 64, identity: 2, direction: 'ingress', protocol: TCP, port: 4000, verdict: 'allow', cookie: 99 },
      ]),
    ]);
    expect(report.maps).toEqual([expect.objectContaining({ name: 'policy', endpointId: EP, entries: rules.length + 1 })]);
    expect(run(dp, 'ingress', pkt).verdict).toBe('allow');
    dp.applyImages([policyImage(EP, rules)]);
    expect(run(dp, 'ingress', pkt).verdict).toBe('drop');
  });

  it('validates images before touching anything', () => {
    const good = policyImage(EP, rules);
    const pkt = { saddr: '10.0.0.2', daddr: ME, protocol: TCP, dport: 80 } as const;
    const before = dp.maps.policy.innerId(EP);
    const truncated = { image: good.image, bytes: good.bytes.subarray(0, good.bytes.length - 3) };
    expect(() => dp.applyImages([policyImage(EP, []), truncated])).toThrow(/not whole 28-byte records \(truncated\?\)/);
    const wrongSize = { image: { ...good.image, keySize: 16 }, bytes: good.bytes };
    expect(() => dp.applyImages([wrongSize])).toThrow(ImageError);
    expect(() => dp.applyImages([wrongSize])).toThrow(
      /records are 16\+16 bytes but the datapath's weir_policy_key\/weir_policy_value are 12\+16/,
    );
    const small = policyImage(EP, rules, 4);
    expect(() => dp.applyImages([small])).toThrow(/14 entries exceed the map's capacity of 4/);
    const miscounted = { image: { ...good.image, entries: 3 }, bytes: good.bytes };
    expect(() => dp.applyImages([miscounted])).toThrow(/manifest says 3/);
    expect(dp.maps.policy.innerId(EP)).toBe(before);
    expect(run(dp, 'ingress', pkt).verdict).toBe('allow');
  });

  it('counts verdicts per CPU', () => {
    const s = dp.stats();
    expect(s.dropped).toBeGreaterThan(5);
    expect(s.allowed).toBeGreaterThan(5);
    expect(s.redirected).toBeGreaterThan(0);
    expect(s.audited).toBeGreaterThan(0);
  });
});
