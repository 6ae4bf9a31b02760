/** `@warren/rabbitmq/opentelemetry`: trace context propagation through @opentelemetry/api (an optional peer dependency). */
export { OpenTelemetryTelemetry } from './open-telemetry.telemetry';
export type { OpenTelemetryOptions } from './open-telemetry.telemetry';
