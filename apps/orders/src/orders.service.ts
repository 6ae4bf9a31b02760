import {
  ConflictException,
  Inject,
  Injectable,
  Logger,
  NotFoundException,
  ServiceUnavailableException,
  UnprocessableEntityException,
  BadGatewayException,
} from '@nestjs/common';
import { AmqpConnection, messageIdFrom, RpcRemoteError } from '@warren/rabbitmq';
import { INVENTORY_ERRORS, type Order, type OrderCreatedEvent, type OrderRejectedEvent } from '../../common/src/contracts';
import { formatCents } from '../../common/src/money';
import { orderIdOf } from '../../common/src/order-id';
import { OrderStore } from '../../common/src/order.store';
import type { SampleNames } from '../../common/src/sample-names';
import { SAMPLE_NAMES } from '../../common/src/sample.tokens';
import { Timeline } from '../../common/src/timeline';
import { cardTokenOf, type CreateOrderDto, type UpdatePaymentMethodDto } from './dto/create-order.dto';
import { InventoryClient } from './inventory.client';
import { OrderLedger } from '../../common/src/order-ledger';

/** The outcome of POST /orders. */
export interface PlaceOrderResult {
  order: Order;
  /** false when this was a repeated POST answered with the order it created before. */
  created: boolean;
}

/**
 * Places orders: reserve stock over RPC, keep the order in Redis (the state every service
 * shares), record the accepted order in PostgreSQL together with its order.created event in
 * one transaction (the transactional outbox publishes it after commit). Idempotent per (customerId, clientOrderId): the order id and the
 * event's messageId are derived from them, so a client that retries its POST
 * (timeout, lost response, double click) gets the same order back and no second event.
 */
@Injectable()
export class OrdersService {
  private readonly logger = new Logger(OrdersService.name);

  constructor(
    private readonly amqp: AmqpConnection,
    private readonly store: OrderStore,
    private readonly inventory: InventoryClient,
    private readonly timeline: Timeline,
    private readonly ledger: OrderLedger,
    @Inject(SAMPLE_NAMES) private readonly names: SampleNames,
  ) {}

  async place(dto: CreateOrderDto, clientOrderId: string): Promise<PlaceOrderResult> {
    const cardToken = cardTokenOf(dto);
    const express = dto.express ?? false;
    const items = dto.items.map(({ sku, quantity }) => ({ sku, quantity }));
    const id = orderIdOf(dto.customerId, clientOrderId);
    const requestHash = messageIdFrom('order-request', dto.customerId, items, cardToken, express);
    // Two rounds: the order we found may be deleted in between (inventory was down for its first request).
    for (let round = 0; round < 2; round++) {
      const existing = await this.store.get(id);
      if (existing) return this.answerRepeat(existing, requestHash);
      const now = new Date().toISOString();
      const order: Order = {
        id,
        clientOrderId,
        customerId: dto.customerId,
        items,
        express,
        cardToken,
        state: 'received',
        requestHash,
        published: false,
        createdAt: now,
        updatedAt: now,
      };
      if (await this.store.createIfAbsent(order)) return this.process(order);
    }
    throw new ServiceUnavailableException('The order is being changed by another request; retry it.');
  }

  async get(id: string): Promise<Order> {
    const order = await this.store.get(id);
    if (!order) throw new NotFoundException(`No order '${id}'`);
    return order;
  }

  /** The customer fixed their card after a decline; the dead letter can then be replayed. */
  async updatePaymentMethod(id: string, dto: UpdatePaymentMethodDto): Promise<Order> {
    const cardToken = cardTokenOf(dto);
    const result = await this.store.transition(id, ['payment_failed'], { cardToken });
    if (!result.applied) {
      if (!result.order) throw new NotFoundException(`No order '${id}'`);
      throw new ConflictException(`Order '${id}' is '${result.order.state}'; only an order whose payment failed takes a new payment method`);
    }
    await this.timeline.record(id, 'payment method updated', `${cardToken}; replay the dead letter to charge it`);
    return result.order;
  }

  /** Publishes order.created again with the same messageId: what a publisher retry would do. Dedup drops it. */
  async republishCreated(id: string): Promise<{ messageId: string }> {
    const order = await this.get(id);
    if (order.totalCents === undefined) throw new ConflictException(`Order '${id}' was never accepted (state '${order.state}')`);
    // Straight to the broker, not through the outbox: this stands for a re-send, which dedup must drop.
    const messageId = messageIdFrom('order.created', order.id);
    await this.amqp.publish(this.names.exchanges.orders, this.names.routingKeys.orderCreated, this.createdEvent(order, order.totalCents), {
      messageId,
      partitionKey: order.id,
    });
    await this.timeline.record(id, 'order.created published again (simulated redelivery)', `same messageId ${messageId.slice(0, 8)}…`);
    return { messageId };
  }

  private async answerRepeat(existing: Order, requestHash: string): Promise<PlaceOrderResult> {
    if (existing.requestHash !== requestHash) {
      throw new UnprocessableEntityException(
        `clientOrderId '${existing.clientOrderId}' was already used for a different order; use a new clientOrderId for a new order`,
      );
    }
    await this.timeline.record(existing.id, 'repeated POST', `answered with the existing order (${existing.state}); nothing published`);
    let order = existing;
    if (existing.state === 'accepted' && !existing.published) {
      // The first request accepted the order but did not record it with its event (PostgreSQL failed, or the process died): finish its work now.
      await this.recordCreated(existing, existing.totalCents ?? 0);
      order = (await this.store.get(existing.id)) ?? existing;
    }
    if (order.state === 'rejected') throw this.rejection(order);
    return { order, created: false };
  }

  private async process(order: Order): Promise<PlaceOrderResult> {
    const units = order.items.reduce((sum, item) => sum + item.quantity, 0);
    await this.timeline.record(order.id, 'order received', `${order.customerId}: ${units} unit(s), card ${order.cardToken}${order.express ? ', express' : ''}`);
    let totalCents: number;
    try {
      totalCents = (await this.inventory.reserve(order.id, order.items)).totalCents;
    } catch (error) {
      if (error instanceof RpcRemoteError && (error.remoteCode === INVENTORY_ERRORS.outOfStock || error.remoteCode === INVENTORY_ERRORS.unknownSku)) {
        return this.reject(order, error);
      }
      // Inventory down, slow or confused: forget the order so that the client's retry starts afresh (reserve is idempotent).
      await this.store.deleteIfState(order.id, 'received');
      await this.timeline.record(order.id, 'inventory unavailable', (error as Error).message);
      if (error instanceof RpcRemoteError) throw new BadGatewayException(`Inventory refused the request: ${error.message}`);
      throw new ServiceUnavailableException(`Inventory did not answer (${(error as Error).name}); retry the same request, it is safe.`);
    }
    const accepted = await this.store.transition(order.id, ['received'], { state: 'accepted', totalCents });
    if (!accepted.applied) throw new ConflictException(`Order '${order.id}' changed while it was placed`);
    await this.timeline.record(order.id, 'accepted', formatCents(totalCents));
    try {
      await this.recordCreated(accepted.order, totalCents);
    } catch (error) {
      this.logger.warn(`order ${order.id} not recorded with its order.created: ${(error as Error).message}`);
      throw new ServiceUnavailableException(
        `The order is accepted but could not be recorded with its event (${(error as Error).name}); retry the same request to finish it.`,
      );
    }
    return { order: (await this.store.get(order.id)) ?? accepted.order, created: true };
  }

  private async reject(order: Order, error: RpcRemoteError): Promise<never> {
    const reason = error.remoteCode === INVENTORY_ERRORS.outOfStock ? `out of stock: ${error.message}` : error.message;
    const rejected = await this.store.transition(order.id, ['received'], { state: 'rejected', reason });
    const current = rejected.order ?? order;
    await this.timeline.record(order.id, 'rejected', reason);
    const event: OrderRejectedEvent = { orderId: order.id, customerId: order.customerId, reason };
    await this.amqp
      .publish(this.names.exchanges.orders, this.names.routingKeys.orderRejected, event, { messageId: messageIdFrom('order.rejected', order.id) })
      .catch((e: Error) => this.logger.warn(`order.rejected for ${order.id} not published: ${e.message}`));
    throw this.rejection(current, error.remoteCode === INVENTORY_ERRORS.unknownSku);
  }

  private rejection(order: Order, unknownSku = order.reason?.startsWith('no product') ?? false): Error {
    const body = { statusCode: unknownSku ? 422 : 409, error: unknownSku ? 'UnknownProduct' : 'OutOfStock', message: order.reason, order };
    return unknownSku ? new UnprocessableEntityException(body) : new ConflictException(body);
  }

  private createdEvent(order: Order, totalCents: number): OrderCreatedEvent {
    return { orderId: order.id, customerId: order.customerId, items: order.items, totalCents, express: order.express };
  }

  /**
   * The accepted order and its order.created (messageId derived from the order id) in one
   * PostgreSQL transaction; the outbox relay publishes the event after the commit.
   */
  private async recordCreated(order: Order, totalCents: number): Promise<void> {
    const { messageId, written } = await this.ledger.accept(order, totalCents);
    await this.store.transition(order.id, ['accepted', 'paid', 'payment_failed'], { published: true });
    await this.timeline.record(
      order.id,
      'order.created written to the outbox',
      `messageId ${messageId.slice(0, 8)}…, committed with the order${written ? '' : ' (by an earlier request)'}; the relay publishes it`,
    );
  }
}
