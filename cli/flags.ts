// Flags shared by `weir controller` and `weir agent`: durations, transport, listen addresses.
import { readFileSync } from 'node:fs';
import { UsageError } from './command.js';
import type { TransportOptions } from '../controller/transport/http.js';

export function parseDuration(v: string | undefined, flag: string, dflt: number): number {
  if (v === undefined) return dflt;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(v.trim());
  if (!m) throw new UsageError(`${flag}: "${v}" is not a duration (examples: 500ms, 30s, 3m)`);
  const n = Number(m[1]);
  return Math.round(m[2] === 'ms' || m[2] === undefined ? n : m[2] === 's' ? n * 1000 : n * 60_000);
}

export function parseListen(v: string, flag: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(v);
  if (!m) throw new UsageError(`${flag}: "${v}" is not HOST:PORT (example: 127.0.0.1:8470)`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

export const transportFlags = {
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-ca': { type: 'string' },
  'token-file': { type: 'string' },
  'insecure-loopback': { type: 'boolean' },
} as const;

export function transportFrom(v: { 'tls-cert'?: string; 'tls-key'?: string; 'tls-ca'?: string; 'token-file'?: string; 'insecure-loopback'?: boolean }): TransportOptions {
  if ((v['tls-cert'] === undefined) !== (v['tls-key'] === undefined)) throw new UsageError('--tls-cert and --tls-key go together');
  let token: string | undefined;
  if (v['token-file']) {
    try {
      token = readFileSync(v['token-file'], 'utf8').trim();
    } catch (err) {
      throw new UsageError(`--token-file ${v['token-file']}: ${(err as Error).message}`);
    }
    if (token.length < 16) throw new UsageError(`--token-file ${v['token-file']}: the token is shorter than 16 characters`);
  }
  return {
    ...(v['tls-cert'] && v['tls-key'] ? { tls: { cert: v['tls-cert'], key: v['tls-key'], ...(v['tls-ca'] ? { ca: v['tls-ca'] } : {}) } } : {}),
    ...(token ? { token } : {}),
    ...(v['insecure-loopback'] ? { insecureLoopback: true } : {}),
  };
}

/** Resolves when SIGINT or SIGTERM arrives. */
export function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    const on = (s: string) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(s);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}
