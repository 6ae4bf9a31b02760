import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidOptionsError } from '../errors/invalid-options.error';
import { outboxMigrationSql } from './outbox-migration';

describe('outbox migration', () => {
  it('ships migrations/outbox.sql as exactly the SQL applyOutboxMigration runs for the default table', () => {
    const shipped = readFileSync(join(__dirname, '..', '..', 'migrations', 'outbox.sql'), 'utf8');
    expect(shipped).toBe(outboxMigrationSql());
  });

  it('creates the schema of a qualified name and names indexes after the table', () => {
    const sql = outboxMigrationSql({ table: 'billing.events_outbox' });
    expect(sql).toContain('CREATE SCHEMA IF NOT EXISTS "billing"');
    expect(sql).toContain('CREATE TABLE IF NOT EXISTS "billing"."events_outbox"');
    expect(sql).toContain('"events_outbox_pending" ON "billing"."events_outbox"');
  });

  it('refuses a name that is not an identifier', () => {
    expect(() => outboxMigrationSql({ table: 'x"; DROP TABLE users; --' })).toThrow(InvalidOptionsError);
  });
});
