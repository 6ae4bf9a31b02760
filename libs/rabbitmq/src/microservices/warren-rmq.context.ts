import { BaseRpcContext } from '@nestjs/microservices';
import type { ConsumeMessage } from 'amqplib';

type WarrenRmqContextArgs = [ConsumeMessage, Record<string, unknown>, string];

/**
 * What `@Ctx()` gives a `@MessagePattern` / `@EventPattern` handler served by
 * WarrenServer: the raw message, its headers and the pattern. Acks are Warren's
 * job (the handler's outcome decides), so there is no channel to ack on.
 */
export class WarrenRmqContext extends BaseRpcContext<WarrenRmqContextArgs> {
  /** The original amqplib message (fields, properties, content). */
  getMessage(): ConsumeMessage {
    return this.args[0];
  }

  getHeaders(): Record<string, unknown> {
    return this.args[1];
  }

  /** The pattern the message was dispatched by. */
  getPattern(): string {
    return this.args[2];
  }

  /** For code written against RmqContext: Warren settles messages itself, so this is always undefined. */
  getChannelRef(): undefined {
    return undefined;
  }
}
