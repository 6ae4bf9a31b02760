/**
 * `@warren/rabbitmq/outbox`: the transactional outbox for PostgreSQL. Messages are written into
 * a table inside the application's transaction and published by a relay after commit. The
 * database driver (`pg`, or TypeORM over it) is an optional peer dependency: nothing here loads it.
 */
export { Outbox } from './outbox';
export type { OutboxEntry, OutboxPublishOptions, OutboxWriterOptions } from './outbox';
export { OutboxRelay } from './outbox-relay';
export type { OutboxBacklog, OutboxRow } from './outbox-relay';
export { WarrenOutboxModule } from './warren-outbox.module';
export type { WarrenOutboxModuleAsyncOptions, WarrenOutboxModuleOptions } from './warren-outbox.module';
export { applyOutboxMigration, outboxMigrationSql } from './outbox-migration';
export { DEFAULT_OUTBOX_OPTIONS, resolveOutboxOptions } from './outbox-options';
export type { OutboxOptions, ResolvedOutboxOptions } from './outbox-options';
export type { OutboxPool, OutboxPoolClient, OutboxQueryable, OutboxTransaction } from './outbox-transaction';
export { OutboxTransactionError } from '../errors/outbox-transaction.error';
export { OutboxWriteError } from '../errors/outbox-write.error';
