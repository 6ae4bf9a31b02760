import { WarrenError } from './warren.error';

/** A method another library's interface requires but Warren does not provide; the message names what to use instead. */
export class UnsupportedOperationError extends WarrenError {
  constructor(
    /** The method called, e.g. `WarrenServer.on`. */
    readonly operation: string,
    /** What to use instead. */
    instead: string,
  ) {
    super('UNSUPPORTED_OPERATION', `${operation}() is not supported: ${instead}`);
  }
}
