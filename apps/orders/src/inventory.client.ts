import { Inject, Injectable } from '@nestjs/common';
import { AmqpConnection } from '@warren/rabbitmq';
import type { OrderItem, ReserveReply, ReserveRequest } from '../../common/src/contracts';
import type { SampleConfig } from '../../common/src/sample-config';
import type { SampleNames } from '../../common/src/sample-names';
import { SAMPLE_CONFIG, SAMPLE_NAMES } from '../../common/src/sample.tokens';

/**
 * Calls inventory over RPC (direct reply-to). Rejects with RpcRemoteError when
 * inventory threw (remoteCode OUT_OF_STOCK / UNKNOWN_SKU), RpcTimeoutError when
 * it did not answer in time, UnroutableMessageError when no inventory is bound.
 */
@Injectable()
export class InventoryClient {
  constructor(
    private readonly amqp: AmqpConnection,
    @Inject(SAMPLE_NAMES) private readonly names: SampleNames,
    @Inject(SAMPLE_CONFIG) private readonly config: SampleConfig,
  ) {}

  reserve(orderId: string, items: OrderItem[]): Promise<ReserveReply> {
    return this.amqp.request<ReserveReply, ReserveRequest>({
      exchange: this.names.exchanges.inventory,
      routingKey: this.names.routingKeys.inventoryReserve,
      payload: { orderId, items },
      timeout: this.config.inventoryTimeoutMs,
    });
  }
}
