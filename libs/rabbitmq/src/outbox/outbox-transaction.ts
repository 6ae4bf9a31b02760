import { OutboxTransactionError } from '../errors/outbox-transaction.error';

/**
 * What the outbox needs of a database connection: run one PostgreSQL statement with `$1`-style
 * parameters and give back its rows, either as `{ rows }` (node-postgres) or as an array
 * (TypeORM, Prisma's `$queryRawUnsafe`). A pg `PoolClient`, a TypeORM `EntityManager` or
 * `QueryRunner` fit as they are; for another library write a two-line adapter, e.g. Prisma:
 * `{ query: (sql, values) => tx.$queryRawUnsafe(sql, ...values) }`.
 */
export interface OutboxQueryable {
  // `any[]`: the parameter lists of pg, TypeORM and Prisma are typed `any[]`; a narrower type would refuse them.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  query(sql: string, values?: any[]): Promise<unknown>;
}

/** The transaction handed to `Outbox.publish`: any `OutboxQueryable` bound to the application's open transaction. */
export type OutboxTransaction = OutboxQueryable;

/** A pooled connection the relay checks out, as node-postgres's `PoolClient` is. */
export interface OutboxPoolClient extends OutboxQueryable {
  release(destroy?: boolean | Error): void;
}

/** A connection pool, as node-postgres's `Pool` is. The relay uses one client at a time, and one more to LISTEN. */
export interface OutboxPool extends OutboxQueryable {
  connect(): Promise<OutboxPoolClient>;
}

/** The rows of a statement's result, whichever of the two shapes the driver returns. */
export function rowsOf<T>(result: unknown): T[] {
  if (Array.isArray(result)) return result as T[];
  const rows = (result as { rows?: unknown } | null | undefined)?.rows;
  return Array.isArray(rows) ? (rows as T[]) : [];
}

/**
 * Throws OutboxTransactionError when `tx` cannot run a query, or is a TypeORM EntityManager or
 * QueryRunner that is not in a transaction (TypeORM tells: `isTransactionActive`). A pg client
 * does not say whether it is in a transaction; that one is the caller's to get right.
 */
export function checkTransaction(tx: unknown, exchange: string, routingKey: string): asserts tx is OutboxTransaction {
  if (tx === null || typeof tx !== 'object' || typeof (tx as { query?: unknown }).query !== 'function') {
    throw new OutboxTransactionError(exchange, routingKey, 'no-query-method');
  }
  // A node-postgres Pool: query() takes any idle connection, so the row would not be in the caller's transaction.
  const pool = tx as { connect?: unknown; totalCount?: unknown; idleCount?: unknown };
  if (typeof pool.connect === 'function' && typeof pool.totalCount === 'number' && typeof pool.idleCount === 'number') {
    throw new OutboxTransactionError(exchange, routingKey, 'pool');
  }
  const candidate = tx as { queryRunner?: { isTransactionActive?: unknown }; isTransactionActive?: unknown; transaction?: unknown; getRepository?: unknown };
  // A TypeORM EntityManager has transaction() and getRepository(), and a queryRunner only inside a transaction; a QueryRunner says isTransactionActive.
  const isEntityManager = typeof candidate.transaction === 'function' && typeof candidate.getRepository === 'function';
  if (isEntityManager && candidate.queryRunner?.isTransactionActive !== true) throw new OutboxTransactionError(exchange, routingKey, 'not-in-transaction');
  if (!isEntityManager && candidate.isTransactionActive === false) throw new OutboxTransactionError(exchange, routingKey, 'not-in-transaction');
}
