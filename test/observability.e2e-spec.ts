import { Controller, Get, Injectable, Module, type INestApplication } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { Test } from '@nestjs/testing';
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { AmqpConnection, RabbitMQModule, RabbitRPC, RabbitSubscribe } from '@warren/rabbitmq';
import { OpenTelemetryTelemetry } from '@warren/rabbitmq/opentelemetry';
import { PrometheusTelemetry, registerQueueMetrics } from '@warren/rabbitmq/prometheus';
import { RabbitMQHealthIndicator } from '@warren/rabbitmq/terminus';
import { Registry } from 'prom-client';
import { createApp } from './support/app';
import { AMQP_URL, BrokerAdmin, uniqueName, waitFor } from './support/broker';

const exchange = uniqueName('obs.x');
const orders = uniqueName('obs.orders');
const rpc = uniqueName('obs.rpc');
const flaky = uniqueName('obs.flaky');

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const contextManager = new AsyncLocalStorageContextManager().enable();

@Injectable()
class Flow {
  readonly seen: string[] = [];
  failures = 0;
  constructor(private readonly amqp: AmqpConnection) {}

  @RabbitSubscribe({ exchange, routingKey: 'order.created', queue: orders })
  async onOrder(order: { id: string }): Promise<void> {
    const reserved = await this.amqp.request<{ ok: boolean }>({ exchange, routingKey: 'stock.reserve', payload: order });
    this.seen.push(`${order.id}:${reserved.ok}`);
  }

  @RabbitRPC({ exchange, routingKey: 'stock.reserve', queue: rpc })
  reserve(): { ok: boolean } {
    return { ok: true };
  }

  @RabbitSubscribe({ exchange, routingKey: 'flaky', queue: flaky, retry: { maxAttempts: 2, backoff: { type: 'fixed', delay: 100 } } })
  onFlaky(): void {
    this.failures++;
    throw new Error('nope');
  }
}

describe('observability', () => {
  const registry = new Registry();
  let admin: BrokerAdmin;
  let app: Awaited<ReturnType<typeof createApp>>;

  beforeAll(async () => {
    trace.setGlobalTracerProvider(provider);
    context.setGlobalContextManager(contextManager);
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    admin = await BrokerAdmin.connect();
    admin.track('queue', orders, rpc, flaky, `${flaky}.dlq`);
    admin.track('exchange', exchange);
    app = await createApp({
      imports: [
        RabbitMQModule.forRoot({
          uri: AMQP_URL,
          exchanges: [{ name: exchange, type: 'topic' }],
          telemetry: [new PrometheusTelemetry({ registry }), new OpenTelemetryTelemetry()],
        }),
      ],
      providers: [Flow],
    });
    registerQueueMetrics(app.get(AmqpConnection), [orders, `${flaky}.dlq`], { registry });
  });

  afterAll(async () => {
    await app?.close();
    await admin?.close();
    trace.disable();
    context.disable();
    propagation.disable();
  });

  it('one trace spans HTTP -> publish -> consume -> RPC -> reply', async () => {
    exporter.reset();
    const tracer = trace.getTracer('test');
    const amqp = app.get(AmqpConnection);
    let traceId = '';
    await tracer.startActiveSpan('POST /orders', async (http) => {
      traceId = http.spanContext().traceId;
      await amqp.publish(exchange, 'order.created', { id: 'o-1' });
      http.end();
    });
    await waitFor(() => app.get(Flow).seen.includes('o-1:true'), 'the order flow');
    await waitFor(
      () => exporter.getFinishedSpans().length >= 5,
      `all spans (${exporter
        .getFinishedSpans()
        .map((s) => s.name)
        .join(', ')})`,
    );
    const spans = exporter.getFinishedSpans();
    const byName = (name: string) => spans.find((s) => s.name === name)!;
    const http = byName('POST /orders');
    const publish = byName(`publish ${exchange}`);
    const consume = byName(`process ${orders}`);
    const request = byName('send stock.reserve');
    const serve = byName(`process ${rpc}`);
    for (const span of [publish, consume, request, serve]) expect(span.spanContext().traceId).toBe(traceId);
    expect(publish.parentSpanContext?.spanId).toBe(http.spanContext().spanId);
    expect(consume.parentSpanContext?.spanId).toBe(publish.spanContext().spanId);
    expect(request.parentSpanContext?.spanId).toBe(consume.spanContext().spanId);
    expect(serve.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
    expect(consume.attributes).toMatchObject({ 'messaging.system': 'rabbitmq', 'messaging.operation.type': 'process', 'warren.outcome': 'acked' });
  });

  it('counts publishes, consumes, retries, dead letters and RPC latency in Prometheus metrics', async () => {
    const amqp = app.get(AmqpConnection);
    await amqp.publish(exchange, 'flaky', {});
    await waitFor(async () => (await admin.messageCount(`${flaky}.dlq`)) === 1, 'the dead letter');
    // The counter moves once the delivery is settled, just after the dead letter is confirmed.
    await waitFor(async () => (await registry.metrics()).includes('outcome="dead-lettered"'), 'the dead-lettered count');
    const text = await registry.metrics();
    expect(text).toMatch(
      new RegExp(`warren_messages_published_total\\{connection="default",exchange="${exchange.replace(/\./g, '\\.')}",outcome="ok"\\} [1-9]`),
    );
    expect(text).toMatch(/warren_messages_consumed_total\{[^}]*handler="Flow.onFlaky",outcome="retried"\} 1/);
    expect(text).toMatch(/warren_messages_consumed_total\{[^}]*handler="Flow.onFlaky",outcome="dead-lettered"\} 1/);
    expect(text).toMatch(/warren_rpc_duration_seconds_count\{connection="default",routing_key="stock.reserve",outcome="ok"\} [1-9]/);
    expect(text).toMatch(/warren_handler_duration_seconds_count\{[^}]*handler="Flow.onOrder"/);
    expect(text).toContain('warren_connection_up{connection="default"} 1');
    expect(text).toMatch(new RegExp(`warren_queue_messages\\{queue="${flaky.replace(/\./g, '\\.')}\\.dlq"\\} 1`));
    expect(text).toMatch(new RegExp(`warren_queue_consumers\\{queue="${orders.replace(/\./g, '\\.')}"\\} 1`));
  });
});

@Controller()
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly rabbit: RabbitMQHealthIndicator,
  ) {}

  @Get('health')
  @HealthCheck()
  check() {
    return this.health.check([() => this.rabbit.isHealthy('rabbitmq', { roundTrip: true })]);
  }
}

@Module({
  imports: [TerminusModule, RabbitMQModule.forRoot({ uri: AMQP_URL })],
  controllers: [HealthController],
  providers: [RabbitMQHealthIndicator],
})
class HealthModule {}

describe('health indicator', () => {
  let app: INestApplication;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({ imports: [HealthModule] }).compile();
    app = moduleRef.createNestApplication({ logger: ['error'] });
    await app.listen(0, '127.0.0.1');
  });

  afterAll(async () => {
    await app?.close();
  });

  it('reports up with a round trip through the broker, and down once the connection is gone', async () => {
    const url = await app.getUrl();
    const up = await fetch(`${url}/health`);
    expect(up.status).toBe(200);
    const body = (await up.json()) as { info: { rabbitmq: { status: string; roundTripMs: number; state: string } } };
    expect(body.info.rabbitmq).toMatchObject({ status: 'up', state: 'connected' });
    expect(body.info.rabbitmq.roundTripMs).toBeGreaterThanOrEqual(0);

    await app.get(AmqpConnection).close();
    const down = await fetch(`${url}/health`);
    expect(down.status).toBe(503);
    const failed = (await down.json()) as { error: { rabbitmq: { status: string } } };
    expect(failed.error.rabbitmq.status).toBe('down');
  });
});
