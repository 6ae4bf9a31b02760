import type { Nack } from './nack';

/**
 * The outcome of one message of a batch, in a batch handler's returned array:
 * `undefined` (or `null`) acks it, a `Nack` rejects it (`new Nack(true)` requeues it),
 * an `Error` fails it as if the handler had thrown it for that message alone (retry, then dead letter).
 */
export type BatchItemResult = undefined | null | void | Nack | Error;

/**
 * What a batch handler returns: nothing acks every message, a `Nack` rejects every one,
 * an array gives each message its own outcome, in the order the messages were given.
 * Throwing fails every message of the batch, each under the retry policy on its own.
 */
export type BatchResult = void | undefined | Nack | readonly BatchItemResult[];
