/**
 * Base class of every error Warren throws. Subclasses carry structured fields
 * (queue, exchange, routingKey, timeoutMs, ...) so callers can branch on them
 * instead of parsing messages; `code` is stable across releases.
 */
export class WarrenError extends Error {
  /** A stable, machine-readable code such as `PUBLISH_TIMEOUT`. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = new.target.name;
  }
}
