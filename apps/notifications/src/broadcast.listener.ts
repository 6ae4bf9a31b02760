import { Injectable, Logger } from '@nestjs/common';
import { RabbitPayload, RabbitSubscribe } from '@warren/rabbitmq';
import type { Broadcast } from '../../common/src/contracts';
import { HANDLERS } from '../../common/src/sample-names';
import { NotificationLog } from './notification.log';

/**
 * Announcements on the fanout exchange. The queue has no name: the broker makes
 * an exclusive one per instance, so every notifications instance gets a copy.
 */
@Injectable()
export class BroadcastListener {
  private readonly logger = new Logger(BroadcastListener.name);

  constructor(private readonly log: NotificationLog) {}

  @RabbitSubscribe({ name: HANDLERS.broadcast, exchange: 'broadcast', routingKey: '' })
  async onBroadcast(@RabbitPayload() broadcast: Broadcast): Promise<void> {
    this.logger.log(`broadcast: ${broadcast.message}`);
    await this.log.record({ channel: 'broadcast', kind: 'broadcast', text: broadcast.message });
  }
}
