// Runs inside the node network namespace (nsenter --net, so bpffs stays visible): opens the pinned
// datapath maps, loads the programs onto them and attaches each endpoint's programs to its host-side
// veth. tc filters outlive this process; it prints the ifindexes it used and exits.
import { NetDatapath } from '../../bpf/net/loader.js';

const [pinDir, spec] = process.argv.slice(2);
if (!pinDir || !spec) throw new Error('usage: attach-helper PIN_DIR JSON');
const endpoints = JSON.parse(spec) as { ifname: string; endpointId: number; identity: number; flags: number }[];
const dp = NetDatapath.open({ pinDir });
const out = endpoints.map((e) => ({ ifname: e.ifname, ifindex: dp.attachEndpoint(e.ifname, e).ifindex }));
process.stdout.write(JSON.stringify(out));
