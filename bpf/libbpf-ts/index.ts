// libbpf-ts: a typed binding over the system libbpf.so.1 (koffi). Everything public is exported here.
export { BpfError, errnoName, onLibbpfLog } from './errors.js';
export { BpfMap, type MapSpec, type MapInfo, type Key, u32, splitRecords, mapInfo, numPossibleCpus } from './map.js';
export { BpfObject, BpfProgram, type OpenOptions } from './object.js';
export {
  BpfLink,
  TcLink,
  XdpLink,
  attachTc,
  attachXdp,
  destroyTcHook,
  ifindexOf,
  type TcAttachOptions,
  type TcDirection,
  XDP_FLAGS_DRV_MODE,
  XDP_FLAGS_SKB_MODE,
  XDP_FLAGS_UPDATE_IF_NOEXIST,
  openRawTracepoint,
  RawTracepointLink,
} from './link.js';
export { RingBuffer, type RingBufferOptions, type SampleHandler } from './ringbuf.js';
export { testRun, type TestRunOptions, type TestRunResult } from './testrun.js';
export { Btf, BTF_KIND, type BtfKindName, type BtfMember, type BtfStruct } from './btf.js';
export {
  probeFeatures,
  probeOverride,
  probeHooks,
  probeMapType,
  probeProgType,
  defaultProbeObject,
  type HookKind,
  type HookSupport,
  type NodeFeatures,
} from './features.js';
export {
  mapTypes,
  progTypes,
  mapTypeName,
  progTypeName,
  type MapTypeName,
  type ProgTypeName,
  BPF_ANY,
  BPF_EXIST,
  BPF_NOEXIST,
  BPF_F_NO_PREALLOC,
  BPF_F_RDONLY_PROG,
} from './types.js';
