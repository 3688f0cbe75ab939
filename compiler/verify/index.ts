export { DatapathEmulator, LpmTrie, type EmulatedEndpoint, type EmulatedVerdict } from './network-emulator.js';
export { bundleClasses, endpointClasses, probedProtocols, type EquivalenceClass } from './classes.js';
export { verifyNetwork, type Mismatch, type VerifyReport } from './verify.js';
