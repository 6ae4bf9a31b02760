-- @warren/rabbitmq transactional outbox: table warren_outbox
CREATE TABLE IF NOT EXISTS "warren_outbox" (
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
CREATE INDEX IF NOT EXISTS "warren_outbox_pending" ON "warren_outbox" (id) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS "warren_outbox_pending_key" ON "warren_outbox" (aggregate_key, id) WHERE status = 'pending' AND aggregate_key IS NOT NULL;
-- What retention deletes, and what an operator lists.
CREATE INDEX IF NOT EXISTS "warren_outbox_sent" ON "warren_outbox" (sent_at) WHERE status = 'sent';
CREATE INDEX IF NOT EXISTS "warren_outbox_held" ON "warren_outbox" (status, id) WHERE status IN ('parked', 'failed');
