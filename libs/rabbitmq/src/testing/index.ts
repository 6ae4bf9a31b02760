/** `@warren/rabbitmq/testing`: helpers for testing applications that use Warren. */
export { RabbitTestNames } from './rabbit-test-names';
export { waitForHandled } from './wait-for-handled';
export { createTestMessage, invokeHandler } from './invoke-handler';
export type { TestMessage } from './invoke-handler';
