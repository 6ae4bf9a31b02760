import { BadRequestException, Body, Controller, Delete, Get, HttpCode, Inject, NotFoundException, Param, Post, Query } from '@nestjs/common';
import { AmqpConnection, DeadLetterService, messageIdFrom, type ReplayResult } from '@warren/rabbitmq';
import type { Broadcast } from '../../../common/src/contracts';
import type { SampleNames } from '../../../common/src/sample-names';
import { SAMPLE_NAMES } from '../../../common/src/sample.tokens';
import { ServiceRegistry, type ServiceReport } from '../../../common/src/service-registry';
import { BroadcastDto, PeekDeadLettersQuery, ReplayDeadLettersDto } from '../dto/admin.dto';
import { OrdersService } from '../orders.service';
import { SummaryService, type SystemSummary } from './summary.service';

/** A queue's depth, or `missing` if it is not declared (yet). */
export interface QueueDepth {
  queue: string;
  messages: number | null;
  consumers: number | null;
  missing?: true;
}

/**
 * Operator endpoints. Unauthenticated in the sample: put them behind your
 * auth (a guard) or a separate port before exposing anything like them.
 */
@Controller('admin')
export class AdminController {
  constructor(
    private readonly amqp: AmqpConnection,
    private readonly deadLetters: DeadLetterService,
    private readonly registry: ServiceRegistry,
    private readonly summary: SummaryService,
    private readonly orders: OrdersService,
    @Inject(SAMPLE_NAMES) private readonly names: SampleNames,
  ) {}

  /** The first dead letters of a queue (nothing is removed), with why each failed. */
  @Get('dead-letters/:queue')
  async peek(@Param('queue') queue: string, @Query() query: PeekDeadLettersQuery) {
    await this.assertDeadLetterQueue(queue);
    const [count, letters] = await Promise.all([this.deadLetters.count(queue), this.deadLetters.peek(queue, { limit: query.limit ?? 20 })]);
    return {
      queue,
      count,
      deadLetters: letters.map(({ messageId, payload, reason }) => ({
        messageId,
        payload: Buffer.isBuffer(payload) ? payload.toString('base64') : payload,
        reason,
      })),
    };
  }

  /** Sends dead letters back to the queue they failed on (all, at most `limit`, or those of `orderIds`). */
  @Post('dead-letters/:queue/replay')
  @HttpCode(200)
  async replay(@Param('queue') queue: string, @Body() dto: ReplayDeadLettersDto): Promise<ReplayResult> {
    await this.assertDeadLetterQueue(queue);
    const orderIds = dto.orderIds ? new Set(dto.orderIds) : undefined;
    return this.deadLetters.replay(queue, {
      limit: dto.limit,
      filter: orderIds ? (letter) => orderIds.has((letter.payload as { orderId?: string } | null)?.orderId ?? '') : undefined,
    });
  }

  @Delete('dead-letters/:queue')
  async purge(@Param('queue') queue: string): Promise<{ purged: number }> {
    await this.assertDeadLetterQueue(queue);
    return { purged: await this.deadLetters.purge(queue) };
  }

  /** Messages waiting and consumers of every queue of the sample. */
  @Get('queues')
  async queues(): Promise<QueueDepth[]> {
    return Promise.all(Object.values(this.names.queues).map((queue) => this.depth(queue)));
  }

  @Get('services')
  services(): Promise<ServiceReport[]> {
    return this.registry.all();
  }

  /** Orders by state, payments, handler statistics of every service, dead letters, notifications. */
  @Get('summary')
  getSummary(): Promise<SystemSummary> {
    return this.summary.summarize();
  }

  /** Chaos button: publishes an order's order.created again with the same messageId, as a publisher retry would. */
  @Post('orders/:id/republish')
  @HttpCode(200)
  republish(@Param('id') id: string): Promise<{ messageId: string }> {
    return this.orders.republishCreated(id);
  }

  /** A message every notifications instance receives (fanout exchange). */
  @Post('broadcast')
  @HttpCode(202)
  async broadcast(@Body() dto: BroadcastDto): Promise<{ published: true }> {
    const message: Broadcast = { message: dto.message, sentAt: new Date().toISOString() };
    await this.amqp.publish(this.names.exchanges.broadcast, '', message, { messageId: messageIdFrom('broadcast', message) });
    return { published: true };
  }

  private async depth(queue: string): Promise<QueueDepth> {
    try {
      const { messageCount, consumerCount } = await this.amqp.withChannel((channel) => channel.checkQueue(queue));
      return { queue, messages: messageCount, consumers: consumerCount };
    } catch {
      return { queue, messages: null, consumers: null, missing: true };
    }
  }

  /** Only dead-letter queues can be read or replayed here, and only existing ones. */
  private async assertDeadLetterQueue(queue: string): Promise<void> {
    if (!queue.endsWith('.dlq')) throw new BadRequestException(`'${queue}' is not a dead-letter queue (their names end in .dlq)`);
    if ((await this.depth(queue)).missing) throw new NotFoundException(`No queue '${queue}'`);
  }
}
