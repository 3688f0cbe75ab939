import { describe, expect, it } from 'vitest';
import { parseHubbleFlows, parseTetragonEvents } from '../../compiler/observed/index.js';

const flow = {
  time: '2026-11-20T10:00:00.000Z',
  verdict: 'FORWARDED',
  IP: { source: '10.0.1.5', destination: '10.0.2.9', ipVersion: 'IPv4' },
  l4: { TCP: { source_port: 41234, destination_port: 8080, flags: { SYN: true } } },
  source: {
    namespace: 'default',
    pod_name: 'frontend-7d9f-abcde',
    labels: ['k8s:app=frontend', 'k8s:io.kubernetes.pod.namespace=default'],
    workloads: [{ name: 'frontend', kind: 'Deployment' }],
  },
  destination: { namespace: 'default', pod_name: 'backend-0', labels: ['k8s:app=backend'] },
  traffic_direction: 'EGRESS',
  is_reply: false,
};

describe('Hubble flow JSON lines', () => {
  it('reads bare flows and {flow} envelopes, and counts malformed lines with their reason', () => {
    const text = [
      JSON.stringify(flow),
      '',
      JSON.stringify({
        flow: {
          ...flow,
          l4: { UDP: { destination_port: 53 } },
          destination: { labels: ['reserved:world'] },
          IP: { source: '10.0.1.5', destination: '8.8.8.8' },
        },
        node_name: 'n1',
      }),
      '{"verdict": "FORWARDED", truncated',
      '[1,2]',
      '{"hello": "world"}',
    ].join('\n');
    const r = parseHubbleFlows(text);
    expect(r.total).toBe(5);
    expect(r.items).toHaveLength(2);
    expect(r.items[0]).toMatchObject({
      line: 1,
      verdict: 'FORWARDED',
      protocol: 'TCP',
      port: 8080,
      isReply: false,
      src: {
        namespace: 'default',
        pod: 'frontend-7d9f-abcde',
        ip: '10.0.1.5',
        labels: { app: 'frontend' },
        workload: { name: 'frontend', kind: 'Deployment' },
      },
    });
    expect(r.items[1]).toMatchObject({ line: 3, protocol: 'UDP', port: 53, dst: { ip: '8.8.8.8', reserved: ['world'] } });
    expect(r.malformed.map((m) => m.line)).toEqual([4, 5, 6]);
    expect(r.malformed[0]!.reason).toMatch(/^not JSON/);
    expect(r.malformed[1]!.reason).toBe('not a JSON object');
    expect(r.malformed[2]!.reason).toMatch(/not a Hubble flow/);
  });
});

describe('Tetragon event JSON lines', () => {
  it('reads kprobe and tracepoint events with pod and arguments', () => {
    const kprobe = {
      process_kprobe: {
        process: {
          binary: '/usr/bin/cat',
          arguments: '/etc/shadow',
          pod: { namespace: 'default', name: 'xwing', workload: 'xwing', pod_labels: { app: 'xwing' } },
        },
        function_name: '__x64_sys_openat',
        args: [{ int_arg: -100 }, { string_arg: '/etc/shadow' }, { int_arg: 0 }],
        action: 'KPROBE_ACTION_POST',
        policy_name: 'file-monitoring',
      },
      node_name: 'kind-worker',
      time: '2026-11-20T10:00:01Z',
    };
    const tp = {
      process_tracepoint: {
        process: { binary: '/bin/sh' },
        subsys: 'syscalls',
        event: 'sys_enter_kill',
        args: [{ int_arg: 1 }, { int_arg: 9 }],
      },
    };
    const r = parseTetragonEvents([JSON.stringify(kprobe), JSON.stringify(tp), '{"process_exec": {"process": {}}}', 'nope'].join('\n'));
    expect(r.total).toBe(4);
    expect(r.items[0]).toMatchObject({
      type: 'process_kprobe',
      namespace: 'default',
      pod: 'xwing',
      binary: '/usr/bin/cat',
      call: '__x64_sys_openat',
      args: [-100, '/etc/shadow', 0],
      action: 'KPROBE_ACTION_POST',
      policy: 'file-monitoring',
      node: 'kind-worker',
    });
    expect(r.items[1]).toMatchObject({ type: 'process_tracepoint', call: 'syscalls/sys_enter_kill', args: [1, 9] });
    expect(r.malformed).toEqual([
      { line: 3, reason: 'process_exec without process.binary' },
      { line: 4, reason: expect.stringMatching(/^not JSON/) as unknown as string },
    ]);
  });
});
