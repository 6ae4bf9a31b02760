import { WarrenError } from './warren.error';

/**
 * `Outbox.publish` was given something that cannot carry the write inside the application's
 * transaction: an object without `query()`, a connection pool (each query may run on another
 * connection, outside your transaction), or a TypeORM EntityManager / QueryRunner that is not
 * inside a transaction (the message would be written whether or not the work commits).
 */
export class OutboxTransactionError extends WarrenError {
  constructor(
    readonly exchange: string,
    readonly routingKey: string,
    /** What was wrong with the transaction object. */
    readonly reason: 'no-query-method' | 'not-in-transaction' | 'pool',
  ) {
    super(
      'OUTBOX_NOT_IN_TRANSACTION',
      reason === 'no-query-method'
        ? `Outbox.publish (exchange '${exchange}', routing key '${routingKey}') needs the transaction's connection: a pg PoolClient, ` +
            `a TypeORM EntityManager or QueryRunner, or an object with query(sql, values). It was given something else.`
        : reason === 'pool'
          ? `Outbox.publish (exchange '${exchange}', routing key '${routingKey}') was given a connection pool: its query would run on any connection, ` +
            `outside your transaction. Pass the client you ran BEGIN on (const client = await pool.connect()).`
          : `Outbox.publish (exchange '${exchange}', routing key '${routingKey}') was given a TypeORM EntityManager or QueryRunner outside a transaction: ` +
            `the message would be stored whether or not your work commits. Pass the manager of dataSource.transaction(...) or a QueryRunner after startTransaction().`,
    );
  }
}
