import { WarrenError } from './warren.error';

/**
 * A batch handler returned an array of outcomes that does not match its batch: another length than the
 * messages it was given, or an entry that is not an outcome. Every message of that batch fails with this
 * error, which counts as permanent: it skips retries and goes to the dead-letter queue (or the handler's
 * error behaviour), because the handler already ran once for all of them.
 */
export class InvalidBatchResultError extends WarrenError {
  /** The stable code of this error. */
  static readonly CODE = 'INVALID_BATCH_RESULT';

  constructor(
    /** The handler's name. */
    readonly handler: string,
    /** Messages the handler was given. */
    readonly expected: number,
    /** Entries in the array it returned. */
    readonly received: number,
    /** The first entry that is not an outcome (undefined, a Nack or an Error), if that was the fault. */
    readonly invalidIndex?: number,
  ) {
    super(
      InvalidBatchResultError.CODE,
      invalidIndex === undefined
        ? `${handler} returned ${received} outcome(s) for a batch of ${expected} message(s). ` +
            `Return one entry per message, in order (undefined to ack, a Nack, or an Error to fail it), or nothing to ack them all.`
        : `${handler} returned an outcome at index ${invalidIndex} that is neither undefined, a Nack nor an Error. ` +
            `Return undefined to ack a message, a Nack to reject it, or an Error to fail it.`,
    );
  }
}
