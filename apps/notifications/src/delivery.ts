/**
 * The parts of the raw delivery (`@RabbitRequest()`) the handlers read. Declared
 * here so the sample depends on nothing but the library's public API.
 */
export interface Delivery {
  fields: { routingKey: string; exchange: string };
  properties: { priority?: number; messageId?: string; headers?: Record<string, unknown> };
}
