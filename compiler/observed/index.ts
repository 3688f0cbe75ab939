// Observed traffic for plans: Hubble flows and Tetragon events, parsed from JSON lines.
export {
  exportText,
  isGzip,
  otherEventKinds,
  parseHubbleFlows,
  parseHubbleFlow,
  type HubbleExport,
  type ObservedFlow,
  type FlowEndpoint,
  type Malformed,
  type OtherEventKind,
  type ParseResult,
} from './hubble.js';
export { parseTetragonEvents, parseTetragonEvent, type ObservedEvent } from './tetragon.js';
