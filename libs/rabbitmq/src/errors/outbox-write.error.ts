import { WarrenError } from './warren.error';

/**
 * `Outbox.publish` could not write the message into the outbox table: the table does not
 * exist (`code` OUTBOX_TABLE_MISSING: apply the migration), or the statement failed
 * (`code` OUTBOX_WRITE_FAILED, the database's error as `cause`). The application's
 * transaction is now aborted on the database side: roll it back.
 */
export class OutboxWriteError extends WarrenError {
  constructor(
    readonly table: string,
    readonly exchange: string,
    readonly routingKey: string,
    /** The database's SQLSTATE when it gave one (42P01: no such table). */
    readonly sqlState: string | undefined,
    cause: unknown,
  ) {
    super(
      sqlState === '42P01' ? 'OUTBOX_TABLE_MISSING' : 'OUTBOX_WRITE_FAILED',
      sqlState === '42P01'
        ? `The outbox table '${table}' does not exist (writing a message for exchange '${exchange}', routing key '${routingKey}'). ` +
            `Apply the outbox migration first: applyOutboxMigration(pool, { table: '${table}' }) or the SQL file @warren/rabbitmq/migrations/outbox.sql; roll back this transaction.`
        : `Writing a message for exchange '${exchange}', routing key '${routingKey}' into the outbox table '${table}' failed ` +
            `(${sqlState ?? 'no SQLSTATE'}: ${(cause as Error | undefined)?.message ?? String(cause)}). Roll back the transaction and retry it.`,
      { cause },
    );
  }
}
