/**
 * Every statement the outbox runs, built for one table. Identifiers are validated by
 * `resolveOutboxOptions` and quoted here; values are always bound parameters.
 */
export class OutboxSql {
  /** The quoted, possibly schema-qualified table name. */
  readonly table: string;
  /** The NOTIFY channel: the table name as given. */
  readonly channel: string;

  constructor(table: string) {
    this.table = quoteQualified(table);
    this.channel = table;
  }

  /** LISTEN on the channel (an identifier, so quoted rather than bound). */
  get listen(): string {
    return `LISTEN ${quote(this.channel)}`;
  }

  /**
   * Writes one row and notifies the relays. NOTIFY inside a transaction is delivered at
   * commit and not at all on rollback, which is exactly when a relay should look.
   */
  get insert(): string {
    return (
      `WITH inserted AS (INSERT INTO ${this.table} (message_id, exchange, routing_key, payload, content_type, properties, aggregate_key) ` +
      `VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7) RETURNING id) ` +
      `SELECT inserted.id::text AS id, pg_notify($8, '') FROM inserted`
    );
  }

  /** The same insert without NOTIFY ($8 unused but bound, so both take the same parameters): relays find the row by polling. */
  get insertQuiet(): string {
    return (
      `WITH inserted AS (INSERT INTO ${this.table} (message_id, exchange, routing_key, payload, content_type, properties, aggregate_key) ` +
      `VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7) RETURNING id) ` +
      `SELECT inserted.id::text AS id, $8::text AS channel FROM inserted`
    );
  }

  /**
   * Locks up to $1 rows that may go now: rows without an aggregate key, and the oldest pending
   * row of each key. A row locked by another relay is skipped (SKIP LOCKED), and so is every
   * later row of its key, because its oldest row is still pending: one relay per key at a time.
   */
  get claimHeads(): string {
    return (
      `SELECT ${COLUMNS} FROM ${this.table} o WHERE o.status = 'pending' AND o.available_at <= clock_timestamp() ` +
      `AND (o.aggregate_key IS NULL OR NOT EXISTS (SELECT 1 FROM ${this.table} p WHERE p.aggregate_key = o.aggregate_key AND p.status = 'pending' AND p.id < o.id)) ` +
      `ORDER BY o.id LIMIT $1 FOR UPDATE SKIP LOCKED`
    );
  }

  /** The next pending rows of keys whose oldest row this relay holds ($1 keys, $2 ids held, $3 limit). */
  get claimFollowers(): string {
    return (
      `SELECT ${COLUMNS} FROM ${this.table} o WHERE o.status = 'pending' AND o.aggregate_key = ANY($1::text[]) AND NOT (o.id = ANY($2::bigint[])) ` +
      `ORDER BY o.id LIMIT $3 FOR UPDATE SKIP LOCKED`
    );
  }

  /**
   * Records what the relay did with each row ($1 ids, $2 statuses, $3 error codes, $4 error texts,
   * $5 retry delays in ms) and returns the commit-to-confirm latency of the rows sent.
   */
  get mark(): string {
    return (
      `UPDATE ${this.table} t SET status = v.status, attempts = t.attempts + 1, error_code = v.code, error_message = v.message, ` +
      `sent_at = CASE WHEN v.status = 'sent' THEN clock_timestamp() ELSE t.sent_at END, ` +
      `available_at = CASE WHEN v.status = 'pending' THEN clock_timestamp() + v.delay_ms * interval '1 millisecond' ELSE t.available_at END ` +
      `FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::integer[]) AS v(id, status, code, message, delay_ms) WHERE t.id = v.id ` +
      `RETURNING t.id::text AS id, t.status, t.exchange, t.routing_key, ` +
      `CASE WHEN t.status = 'sent' THEN (extract(epoch FROM (t.sent_at - t.created_at)) * 1000)::float8 END AS latency_ms`
    );
  }

  /** Pending, parked and failed rows, and the age of the oldest pending one in ms. */
  get backlog(): string {
    return (
      `SELECT count(*) FILTER (WHERE status = 'pending')::int AS pending, count(*) FILTER (WHERE status = 'parked')::int AS parked, ` +
      `count(*) FILTER (WHERE status = 'failed')::int AS failed, ` +
      `coalesce(extract(epoch FROM (clock_timestamp() - min(created_at) FILTER (WHERE status = 'pending'))) * 1000, 0)::float8 AS oldest_ms ` +
      `FROM ${this.table} WHERE status <> 'sent'`
    );
  }

  /** Deletes up to $2 rows sent more than $1 ms ago. */
  get cleanup(): string {
    return (
      `DELETE FROM ${this.table} WHERE id IN (SELECT id FROM ${this.table} WHERE status = 'sent' ` +
      `AND sent_at < clock_timestamp() - $1 * interval '1 millisecond' ORDER BY sent_at LIMIT $2)`
    );
  }

  /** Parked or failed rows ($1 statuses), oldest first, up to $2. */
  get held(): string {
    return `SELECT ${COLUMNS} FROM ${this.table} WHERE status = ANY($1::text[]) ORDER BY id LIMIT $2`;
  }

  /** Puts parked or failed rows back to pending ($1 statuses, $2 ids or null for all), notifying the relays. */
  get replay(): string {
    return (
      `WITH replayed AS (UPDATE ${this.table} SET status = 'pending', available_at = clock_timestamp(), error_code = NULL, error_message = NULL ` +
      `WHERE status = ANY($1::text[]) AND ($2::bigint[] IS NULL OR id = ANY($2::bigint[])) RETURNING id) ` +
      `SELECT (SELECT count(*) FROM replayed)::int AS replayed, pg_notify($3, '')`
    );
  }
}

const COLUMNS =
  'id::text AS id, message_id, exchange, routing_key, payload, content_type, properties, aggregate_key, status, attempts, created_at, error_code, error_message';

/** An identifier as PostgreSQL reads it quoted. */
export function quote(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}

/** `schema.table` or `table`, each part quoted. */
export function quoteQualified(name: string): string {
  return name.split('.').map(quote).join('.');
}

/** The table name without its schema, for naming indexes (which live in the table's schema). */
export function baseName(name: string): string {
  return name.split('.').pop()!;
}
