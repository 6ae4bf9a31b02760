/** `@warren/rabbitmq/prometheus`: metrics through prom-client (an optional peer dependency). */
export { PrometheusTelemetry, registerQueueMetrics } from './prometheus.telemetry';
export type { PrometheusTelemetryOptions } from './prometheus.telemetry';
