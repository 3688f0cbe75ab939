// Structured logs to stderr (stdout is kept for machine output).
import { pino, type Logger } from 'pino';

export type { Logger };

export function makeLogger(name: string, level: string = process.env['WEIR_LOG_LEVEL'] ?? 'info'): Logger {
  return pino({ name, level, base: { pid: process.pid } }, pino.destination({ fd: 2, sync: true }));
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
