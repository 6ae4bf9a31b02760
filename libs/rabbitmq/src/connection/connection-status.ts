/**
 * The life of a connection: `connecting` until the first connect, then `connected` /
 * `disconnected`, `closed` after `close()`. `blocked` while the broker blocks publishing on
 * the connection (a memory or disk alarm, RabbitMQ's `connection.blocked`): the connection
 * stays open and deliveries still arrive, but the broker reads nothing from it (publishes,
 * acks, channel and consumer operations wait) until it sends `connection.unblocked`, which
 * brings the status back to `connected`.
 */
export type ConnectionStatus = 'connecting' | 'connected' | 'blocked' | 'disconnected' | 'closed';
