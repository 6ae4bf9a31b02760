import { baseName, quote, quoteQualified } from './outbox-sql';
import type { OutboxQueryable } from './outbox-transaction';
import { DEFAULT_OUTBOX_TABLE, validateTableName } from './outbox-options';
import { InvalidOptionsError } from '../errors/invalid-options.error';

/**
 * The outbox table's schema, as SQL. The file `migrations/outbox.sql` shipped with the package is
 * this text for the default table name (a test keeps them equal); run that file with your own
 * migration tool, or call `applyOutboxMigration`. Idempotent: every statement is `IF NOT EXISTS`.
 *
 * Columns: the message as it will be published (`message_id` fixed at write time, `exchange`,
 * `routing_key`, `payload` bytes, `content_type`, `properties` with headers and trace context),
 * `aggregate_key` for ordering, and the relay's bookkeeping: `status` (pending → sent, or parked:
 * unroutable, or failed: the broker or encoder refused the row itself), `attempts`, `available_at`
 * (the next try after a transient failure), `sent_at`, `error_code` and `error_message`.
 */
export function outboxMigrationSql(options: { table?: string } = {}): string {
  const name = options.table ?? DEFAULT_OUTBOX_TABLE;
  const problem = validateTableName(name);
  if (problem) throw new InvalidOptionsError([problem]);
  const table = quoteQualified(name);
  const base = baseName(name);
  const index = (suffix: string): string => quote(`${base}_${suffix}`);
  const schema = name.includes('.') ? `CREATE SCHEMA IF NOT EXISTS ${quote(name.split('.')[0])};\n\n` : '';
  return `-- @warren/rabbitmq transactional outbox: table ${name}
${schema}CREATE TABLE IF NOT EXISTS ${table} (
  id            bigserial   PRIMARY KEY,
  message_id    text        NOT NULL,
  exchange      text        NOT NULL,
  routing_key   text        NOT NULL,
  payload       bytea       NOT NULL,
  content_type  text,
  properties    jsonb       NOT NULL DEFAULT '{}'::jsonb,
  aggregate_key text,
  status        text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'parked', 'failed')),
  attempts      integer     NOT NULL DEFAULT 0,
  created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
  available_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
  sent_at       timestamptz,
  error_code    text,
  error_message text
);

-- What the relay claims: pending rows in id order, and the pending rows of one aggregate key.
CREATE INDEX IF NOT EXISTS ${index('pending')} ON ${table} (id) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS ${index('pending_key')} ON ${table} (aggregate_key, id) WHERE status = 'pending' AND aggregate_key IS NOT NULL;
-- What retention deletes, and what an operator lists.
CREATE INDEX IF NOT EXISTS ${index('sent')} ON ${table} (sent_at) WHERE status = 'sent';
CREATE INDEX IF NOT EXISTS ${index('held')} ON ${table} (status, id) WHERE status IN ('parked', 'failed');
`;
}

/**
 * Creates the outbox table (and its schema, when the name has one) if it does not exist.
 * Call it from your migrations or a deploy step; the relay never creates it on its own.
 * `db` is a pg Pool or client (anything with `query(sql)`).
 */
export async function applyOutboxMigration(db: OutboxQueryable, options: { table?: string } = {}): Promise<void> {
  await db.query(outboxMigrationSql(options));
}
