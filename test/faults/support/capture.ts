import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { inspect } from 'node:util';
import { ConsoleLogger } from '@nestjs/common';
import { CAPTURED_FILE } from './paths';

/** Appends text to the run's capture file, which the credentials check scans at the end. */
export function capture(source: string, text: string): void {
  mkdirSync(dirname(CAPTURED_FILE), { recursive: true });
  appendFileSync(CAPTURED_FILE, `[${source}] ${text}\n`);
}

/** Everything an operator could see of an error: message, stack, fields and the cause chain. */
export function describeFully(error: unknown): string {
  return inspect(error, { depth: 6, showHidden: false, breakLength: Infinity });
}

/** Records an error as a caller would log it. */
export function captureError(source: string, error: unknown): void {
  capture(source, `${String(error)}\n${describeFully(error)}`);
}

/**
 * A Nest logger that keeps every line, at every level (debug and verbose included),
 * in memory for assertions and in the capture file for the credentials scan.
 * Extends ConsoleLogger: Nest refuses a subclass of Logger as the application logger.
 */
export class FaultLogger extends ConsoleLogger {
  readonly lines: string[] = [];

  constructor(private readonly source: string) {
    super();
  }

  private keep(level: string, message: unknown, rest: unknown[]): void {
    const text = `${level} ${typeof message === 'string' ? message : inspect(message)} ${rest.map((r) => (typeof r === 'string' ? r : inspect(r))).join(' ')}`;
    this.lines.push(text);
    capture(this.source, text);
    if (process.env.FAULT_LOGS) process.stderr.write(`[${this.source}] ${text}\n`);
  }
  override log(message: unknown, ...rest: unknown[]): void {
    this.keep('LOG', message, rest);
  }
  override warn(message: unknown, ...rest: unknown[]): void {
    this.keep('WARN', message, rest);
  }
  override error(message: unknown, ...rest: unknown[]): void {
    this.keep('ERROR', message, rest);
  }
  override debug(message: unknown, ...rest: unknown[]): void {
    this.keep('DEBUG', message, rest);
  }
  override verbose(message: unknown, ...rest: unknown[]): void {
    this.keep('VERBOSE', message, rest);
  }
  override fatal(message: unknown, ...rest: unknown[]): void {
    this.keep('FATAL', message, rest);
  }

  count(pattern: RegExp): number {
    return this.lines.filter((line) => pattern.test(line)).length;
  }
}
