import { WarrenError } from './warren.error';

/**
 * golevelup's error for the empty delivery amqplib hands a consumer when the broker cancels it
 * (its queue was deleted). golevelup throws it inside its consumer and only logs it; Warren
 * never throws it: it treats that delivery as the cancellation it is, declares the queue again and
 * consumes on a new channel. Exported so that code naming it compiles; no caller receives it from either library.
 */
export class NullMessageError extends WarrenError {
  constructor() {
    super(
      'NULL_MESSAGE',
      'Received null message: the broker cancelled the consumer (its queue was deleted); the queue is declared again and consumed on a new channel.',
    );
  }
}
