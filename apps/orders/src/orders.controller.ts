import { BadRequestException, Body, Controller, Get, Headers, HttpCode, Param, Patch, Post, Query, Res } from '@nestjs/common';
import type { Order, TimelineEntry } from '../../common/src/contracts';
import { OrderStore } from '../../common/src/order.store';
import { Timeline } from '../../common/src/timeline';
import { CreateOrderDto, UpdatePaymentMethodDto } from './dto/create-order.dto';
import { ListOrdersQuery } from './dto/list-orders.query';
import type { HttpResponse } from './http-response';
import { OrdersService } from './orders.service';

/**
 * POST   /orders                      201 created · 200 repeated POST (same order) · 409 out of stock · 422 reused id
 * GET    /orders/:id                  the order and its timeline
 * GET    /orders?state=&offset=&limit=
 * PATCH  /orders/:id/payment-method   after a decline
 */
@Controller('orders')
export class OrdersController {
  constructor(
    private readonly orders: OrdersService,
    private readonly store: OrderStore,
    private readonly timeline: Timeline,
  ) {}

  @Post()
  async create(
    @Body() dto: CreateOrderDto,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Res({ passthrough: true }) res: HttpResponse,
  ): Promise<Order> {
    const clientOrderId = dto.clientOrderId ?? idempotencyKey;
    if (!clientOrderId) {
      throw new BadRequestException(
        'Give every order an id of your own (clientOrderId, or the Idempotency-Key header): a retried POST with the same id is answered with the same order instead of creating another.',
      );
    }
    if (dto.clientOrderId && idempotencyKey && dto.clientOrderId !== idempotencyKey) {
      throw new BadRequestException('clientOrderId and the Idempotency-Key header differ; give one of them');
    }
    const { order, created } = await this.orders.place(dto, clientOrderId);
    res.status(created ? 201 : 200);
    if (!created) res.setHeader('Idempotent-Replayed', 'true');
    res.setHeader('Location', `/orders/${order.id}`);
    return order;
  }

  @Get()
  list(@Query() query: ListOrdersQuery): Promise<Order[]> {
    return this.store.list(query);
  }

  @Get(':id')
  async get(@Param('id') id: string): Promise<Order & { timeline: TimelineEntry[] }> {
    const order = await this.orders.get(id);
    return { ...order, timeline: await this.timeline.of(id) };
  }

  @Patch(':id/payment-method')
  @HttpCode(200)
  updatePaymentMethod(@Param('id') id: string, @Body() dto: UpdatePaymentMethodDto): Promise<Order> {
    return this.orders.updatePaymentMethod(id, dto);
  }
}
