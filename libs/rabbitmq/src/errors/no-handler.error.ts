import { WarrenError } from './warren.error';

/** A message reached a queue whose handlers do not take its routing key. */
export class NoHandlerError extends WarrenError {
  constructor(
    readonly queue: string,
    readonly routingKey: string,
  ) {
    super(
      'NO_HANDLER',
      `No handler on queue '${queue}' takes routing key '${routingKey}'. ` +
        `The queue is bound more widely than its handlers; add a handler or narrow the binding.`,
    );
  }
}
