import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Span, type Tracer } from '@opentelemetry/api';
import type { CallOutcome, ConsumeInfo, ConsumeOutcome, OutboxWriteInfo, PublishInfo, RequestInfo, WarrenTelemetry } from '../options/telemetry.interface';

export interface OpenTelemetryOptions {
  /** @default trace.getTracer('@warren/rabbitmq') */
  tracer?: Tracer;
}

/** Outcomes that count as success on a consumer span. */
const SUCCESS: ReadonlySet<ConsumeOutcome> = new Set(['acked', 'duplicate']);

/**
 * W3C trace context across RabbitMQ: publishes and requests inject
 * `traceparent`/`tracestate` into the message headers, consumers continue the
 * trace (the handler runs inside the consumer span, so what it publishes or
 * requests is a child), and RPC replies carry the server's context back.
 * Spans follow OpenTelemetry's messaging semantic conventions.
 */
export class OpenTelemetryTelemetry implements WarrenTelemetry {
  private readonly tracer: Tracer;

  constructor(options: OpenTelemetryOptions = {}) {
    this.tracer = options.tracer ?? trace.getTracer('@warren/rabbitmq');
  }

  onPublish(info: PublishInfo, headers: Record<string, unknown>): (outcome: CallOutcome) => void {
    // With no span active but a trace context in the headers (an outbox row relayed after commit), the trace written with it goes on.
    const active = context.active();
    const parent = trace.getSpan(active) === undefined && typeof headers.traceparent === 'string' ? propagation.extract(active, headers) : active;
    const span = this.tracer.startSpan(
      `publish ${info.exchange || 'amq.default'}`,
      {
        kind: SpanKind.PRODUCER,
        attributes: {
          ...base('publish', 'send', info.exchange, info.routingKey),
          ...(info.messageId ? { 'messaging.message.id': info.messageId } : {}),
        },
      },
      parent,
    );
    propagation.inject(trace.setSpan(parent, span), headers);
    return (outcome) => end(span, outcome === 'ok', outcome);
  }

  onRequest(info: RequestInfo, headers: Record<string, unknown>): (outcome: CallOutcome) => void {
    const span = this.tracer.startSpan(`send ${info.routingKey}`, {
      kind: SpanKind.CLIENT,
      attributes: base('send', 'send', info.exchange, info.routingKey),
    });
    propagation.inject(trace.setSpan(context.active(), span), headers);
    return (outcome) => end(span, outcome === 'ok', outcome);
  }

  onConsume(info: ConsumeInfo, next: () => Promise<ConsumeOutcome>): Promise<ConsumeOutcome> {
    const parent = propagation.extract(ROOT_CONTEXT, info.headers);
    const span = this.tracer.startSpan(
      `process ${info.queue}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          ...base('process', 'process', info.exchange, info.routingKey),
          'messaging.destination.subscription.name': info.queue,
          'messaging.consumer.group.name': info.queue,
          ...(info.messageId ? { 'messaging.message.id': info.messageId } : {}),
          ...(info.handler ? { 'warren.handler': info.handler } : {}),
          'warren.attempt': info.attempt,
          'warren.redeliveries': info.redeliveries,
        },
      },
      parent,
    );
    return context.with(trace.setSpan(parent, span), async () => {
      try {
        const outcome = await next();
        span.setAttribute('warren.outcome', outcome);
        end(span, SUCCESS.has(outcome), outcome);
        return outcome;
      } catch (error) {
        span.recordException(error as Error);
        end(span, false, 'error');
        throw error;
      }
    });
  }

  /** A message written to the outbox keeps the writer's trace context with its row; its publish, after commit, continues that trace. */
  onOutboxWrite(_info: OutboxWriteInfo, headers: Record<string, unknown>): void {
    propagation.inject(context.active(), headers);
  }

  onReply(headers: Record<string, unknown>): void {
    propagation.inject(context.active(), headers);
  }
}

function base(operation: string, type: string, exchange: string, routingKey: string): Attributes {
  return {
    'messaging.system': 'rabbitmq',
    'messaging.operation.name': operation,
    'messaging.operation.type': type,
    'messaging.destination.name': exchange || 'amq.default',
    'messaging.rabbitmq.destination.routing_key': routingKey,
  };
}

function end(span: Span, ok: boolean, outcome: string): void {
  if (!ok) span.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
  span.end();
}
