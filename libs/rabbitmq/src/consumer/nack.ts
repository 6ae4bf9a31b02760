/**
 * Return `new Nack()` from a handler to reject the message without throwing:
 * `new Nack(true)` requeues it at once, `new Nack()` dead-letters it.
 */
export class Nack {
  constructor(readonly requeue = false) {}
}
