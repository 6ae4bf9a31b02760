import { Injectable, ValidationPipe } from '@nestjs/common';
import { RabbitPayload, RabbitRPC } from '@warren/rabbitmq';
import type { ReserveReply } from '../../common/src/contracts';
import { formatCents } from '../../common/src/money';
import { HANDLERS } from '../../common/src/sample-names';
import { Timeline } from '../../common/src/timeline';
import { ReserveRequestDto } from './reserve-request.dto';
import { StockRepository } from './stock.repository';

/**
 * The inventory RPC server. The reply is the return value; an OutOfStockError
 * thrown here reaches the caller at once as an RpcRemoteError with
 * remoteName 'OutOfStockError', remoteCode 'OUT_OF_STOCK' and the data.
 */
@Injectable()
export class InventoryRpc {
  constructor(
    private readonly stock: StockRepository,
    private readonly timeline: Timeline,
  ) {}

  // exchange/queue are the production names; InventoryModule overrides them per deployment (namespace, queue type).
  @RabbitRPC({ name: HANDLERS.inventoryReserve, exchange: 'inventory', routingKey: 'inventory.reserve', queue: 'inventory.rpc' })
  async reserve(@RabbitPayload(new ValidationPipe({ whitelist: true, transform: true })) request: ReserveRequestDto): Promise<ReserveReply> {
    try {
      const { reply, repeated } = await this.stock.reserve(request.orderId, request.items);
      const units = request.items.reduce((sum, item) => sum + item.quantity, 0);
      await this.timeline.record(request.orderId, repeated ? 'stock already reserved' : 'stock reserved', `${units} unit(s), ${formatCents(reply.totalCents)}`);
      return reply;
    } catch (error) {
      await this.timeline.record(request.orderId, 'reservation refused', (error as Error).message);
      throw error;
    }
  }
}
