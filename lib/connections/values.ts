/** Checks of the values a connection may carry, failing with a ConnectionError that names where the value came from. */
import { ConnectionError } from '../errors.ts';
import { SSL_MODES, type SslMode } from './types.ts';

/** A port number 1-65535; a string of digits is accepted. */
export function parsePort(value: unknown, where: string, label: string): number {
  const port = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ConnectionError(`${label}: ${where} must be a port number (1-65535), got ${JSON.stringify(value)}`, label);
  }
  return port;
}

/** A non-negative number of seconds; a numeric string is accepted. */
export function parseSeconds(value: unknown, where: string, label: string): number {
  const seconds = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) {
    throw new ConnectionError(`${label}: ${where} must be a number of seconds, got ${JSON.stringify(value)}`, label);
  }
  return seconds;
}

/** One of `SSL_MODES`. */
export function parseSslmode(value: string, where: string, label: string): SslMode {
  if (!(SSL_MODES as readonly string[]).includes(value)) {
    throw new ConnectionError(`${label}: ${where} ${JSON.stringify(value)} is not supported; use ${SSL_MODES.join(', ')}`, label);
  }
  return value as SslMode;
}
