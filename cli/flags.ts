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

export function readSecret(file: string, flag: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new UsageError(`${flag} ${file}: ${(err as Error).message}`);
  }
  if (text.length < 16) throw new UsageError(`${flag} ${file}: the secret is shorter than 16 characters`);
  return text;
}

export function transportFrom(v: {
  'tls-cert'?: string;
  'tls-key'?: string;
  'tls-ca'?: string;
  'token-file'?: string;
  'insecure-loopback'?: boolean;
}): TransportOptions {
  if ((v['tls-cert'] === undefined) !== (v['tls-key'] === undefined)) throw new UsageError('--tls-cert and --tls-key go together');
  const token = v['token-file'] ? readSecret(v['token-file'], '--token-file') : undefined;
  if (token !== undefined && /\s/.test(token))
    throw new UsageError(`--token-file ${v['token-file']}: a token is one word (for per-node tokens the controller takes --node-tokens)`);
  // --tls-ca alone is an agent that verifies the controller and authenticates with a token.
  const tls =
    v['tls-cert'] && v['tls-key']
      ? { cert: v['tls-cert'], key: v['tls-key'], ...(v['tls-ca'] ? { ca: v['tls-ca'] } : {}) }
      : v['tls-ca']
        ? { ca: v['tls-ca'] }
        : undefined;
  return {
    ...(tls ? { tls } : {}),
    ...(token ? { token } : {}),
    ...(v['insecure-loopback'] ? { insecureLoopback: true } : {}),
  };
}

/** `--node-tokens FILE`: lines `NODE TOKEN` (blank lines and `#` comments skipped); a token speaks for its node only. */
export function nodeTokensFrom(file: string): Map<string, string> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`--node-tokens ${file}: ${(err as Error).message}`);
  }
  const out = new Map<string, string>();
  const seen = new Set<string>();
  text.split(/\r?\n/).forEach((line, i) => {
    const t = line.trim();
    if (!t || t.startsWith('#')) return;
    const m = /^(\S+)\s+(\S+)$/.exec(t);
    if (!m) throw new UsageError(`--node-tokens ${file}:${i + 1}: expected "NODE TOKEN"`);
    const [, node, token] = m as unknown as [string, string, string];
    if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/i.test(node))
      throw new UsageError(`--node-tokens ${file}:${i + 1}: ${JSON.stringify(node)} is not a node name`);
    if (token.length < 16) throw new UsageError(`--node-tokens ${file}:${i + 1}: the token of ${node} is shorter than 16 characters`);
    if (out.has(node)) throw new UsageError(`--node-tokens ${file}:${i + 1}: node ${node} is listed twice`);
    if (seen.has(token)) throw new UsageError(`--node-tokens ${file}:${i + 1}: the token of ${node} is also another node's`);
    seen.add(token);
    out.set(node, token);
  });
  return out;
}

export function webhookSecretFrom(file: string): string {
  return readSecret(file, '--webhook-secret-file');
}

export function parseCount(v: string | undefined, flag: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`${flag}: "${v}" is not a positive whole number`);
  return n;
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
