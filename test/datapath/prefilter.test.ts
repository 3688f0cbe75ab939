// The XDP prefilter: CIDR deny list by source address (BPF_PROG_TEST_RUN), drop events, and attaching
// to a real interface (a veth pair this test creates) with libbpf-ts's XDP and tc links.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetDatapath, type NetEvent } from '../../bpf/net/loader.js';
import { attachTc, attachXdp, ifindexOf } from '../../bpf/libbpf-ts/index.js';
import { IPPROTO, synthesizePacket } from '../../bpf/packet.js';
import { skipKernel } from '../kernel-env.js';
import { prefilterImage } from './fixtures.js';
import { ensureBuilt } from './helpers.js';
import { removeLeftoverLinks } from './netns.js';

const XDP_DROP = 1;
const XDP_PASS = 2;

describe.skipIf(skipKernel())('XDP prefilter', () => {
  let dp: NetDatapath;
  const veth = `wdp-${randomBytes(2).toString('hex')}-x0`;
  beforeAll(() => {
    ensureBuilt();
    removeLeftoverLinks(/^wdp-[0-9a-f]{4}-x0$/);
    dp = NetDatapath.open({ prefilter: true });
    dp.applyImages([
      prefilterImage([
        ['192.0.2.0/24', 7],
        ['2001:db8:bad::/48', 8],
        ['203.0.113.9/32', 9],
      ]),
    ]);
  });
  afterAll(() => {
    dp?.close();
    execFileSync('ip', ['link', 'del', veth], { stdio: 'ignore' });
  });

  const xdp = (saddr: string, daddr: string) =>
    dp.prefilterProgram!.testRun({ data: synthesizePacket({ saddr, daddr, protocol: IPPROTO.TCP, dport: 80 }) }).retval;

  it.each([
    ['192.0.2.55', '10.0.0.1', XDP_DROP],
    ['192.0.3.1', '10.0.0.1', XDP_PASS],
    ['203.0.113.9', '10.0.0.1', XDP_DROP],
    ['203.0.113.10', '10.0.0.1', XDP_PASS],
    ['2001:db8:bad:1::5', 'fd00::1', XDP_DROP],
    ['2001:db8:bae::5', 'fd00::1', XDP_PASS],
  ])('source %s -> %s: %i', (saddr, daddr, want) => {
    expect(xdp(saddr, daddr)).toBe(want);
  });

  it('reports prefilter drops with the rule cookie', () => {
    const events: NetEvent[] = [];
    using rb = dp.events((e) => events.push(e));
    rb.consume();
    events.length = 0;
    xdp('192.0.2.77', '10.0.0.1');
    rb.consume();
    expect(events).toEqual([
      expect.objectContaining({ reason: 'prefilter', cookie: 7, saddr: '192.0.2.77', daddr: '10.0.0.1', family: 4, protocol: IPPROTO.TCP }),
    ]);
    expect(dp.stats().prefiltered).toBeGreaterThan(0);
  });

  it('attaches XDP and tc programs to a veth pair and detaches them on close', () => {
    execFileSync('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', `${veth.slice(0, -1)}y`]);
    execFileSync('ip', ['link', 'set', veth, 'up']);
    const ifindex = ifindexOf(veth);
    const show = () => execFileSync('ip', ['-d', 'link', 'show', veth], { encoding: 'utf8' });
    {
      using x = dp.attachPrefilter(veth);
      expect(x.ifindex).toBe(ifindex);
      expect(show()).toMatch(/prog\/xdp id \d+/);
    }
    expect(show()).not.toMatch(/prog\/xdp/);
    {
      using t = attachTc(dp.toEndpoint.fd, { ifname: veth, direction: 'egress' });
      expect(t.progId).toBeGreaterThan(0);
      expect(execFileSync('tc', ['filter', 'show', 'dev', veth, 'egress'], { encoding: 'utf8' })).toContain('weir_to_endpoin');
    }
    expect(execFileSync('tc', ['filter', 'show', 'dev', veth, 'egress'], { encoding: 'utf8' })).not.toContain('weir_to_endpoin');
    expect(() => attachXdp(dp.prefilterProgram!.fd, { ifname: 'wdp-nonexist0' })).toThrow(/ENODEV.*no such interface/s);
  });
});
