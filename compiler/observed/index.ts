// Observed traffic for plans: Hubble flows and Tetragon events, parsed from JSON lines.
export { parseHubbleFlows, parseHubbleFlow, type ObservedFlow, type FlowEndpoint, type Malformed, type ParseResult } from './hubble.js';
export { parseTetragonEvents, parseTetragonEvent, type ObservedEvent } from './tetragon.js';
