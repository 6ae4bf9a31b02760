/**
 * Every broker and Redis name of the sample, derived from one namespace. Services
 * read names only from here, so a test can run a whole isolated copy of the system
 * next to another (or next to a running sample) on the same broker and Redis.
 */
export interface SampleNames {
  /** The orders service's PostgreSQL tables, in a schema of the namespace's own. */
  database: {
    schema: string;
    /** One row per accepted order, written in the same transaction as its event. */
    orders: string;
    /** The transactional outbox (`@warren/rabbitmq/outbox`). */
    outbox: string;
  };
  exchanges: {
    /** topic: order.created, order.rejected, order.paid, order.payment_failed. */
    orders: string;
    /** direct: inventory RPC. */
    inventory: string;
    /** fanout: announcements every notifications instance receives. */
    broadcast: string;
    /** headers: documents (receipts, invoices) routed by their `kind` header. */
    documents: string;
    /** topic: the notifications service's own events (due reminders come back through it). */
    notifications: string;
  };
  queues: {
    inventoryRpc: string;
    payments: string;
    /** Where payments that failed for good wait (created by the library: `<queue>.dlq`). */
    paymentsDlq: string;
    notificationEvents: string;
    receipts: string;
    /** Priority queue: express orders are shipped first. */
    shipping: string;
    /** TTL queue without consumers: a reminder waits here, then is dead-lettered to `notifications`. */
    reminderWait: string;
    reminders: string;
  };
  routingKeys: {
    orderCreated: string;
    orderRejected: string;
    orderPaid: string;
    orderPaymentFailed: string;
    /** Pattern of every order event. */
    orderAny: string;
    inventoryReserve: string;
    reminderDue: string;
  };
  /** Prefix of every Redis key of this deployment. */
  redisPrefix: string;
  /** Redis keys more than one service reads (the rest stay private to their service). */
  keys: {
    /** Hash orderId -> payment record (payments). */
    payments: string;
    /** List of every charge the simulated gateway made: what the bank statement would show. */
    charges: string;
    /** List of every notification sent. */
    notifications: string;
    /** Pub/sub channel of timeline entries. */
    timelineChannel: string;
    /** Prefix of the payments dedup store's keys. */
    dedupPrefix: string;
    /** List of every run of the payments handler (order id, worker, start, end, outcome): the cluster demo's order check. */
    paymentRuns: string;
  };
}

/** Handler names: stable keys for the module's per-handler overrides and for the stats. */
export const HANDLERS = {
  inventoryReserve: 'inventory.reserve',
  paymentsCharge: 'payments.charge',
  orderEvents: 'notifications.order-events',
  broadcast: 'notifications.broadcast',
  receipts: 'notifications.receipts',
  shipping: 'notifications.shipping',
  reminders: 'notifications.reminders',
} as const;

/** The names of a deployment; `namespace` '' gives the production names. */
export function sampleNames(namespace = ''): SampleNames {
  const n = (name: string): string => `${namespace}${name}`;
  const payments = n('payments.order-created');
  const prefix = `warren-sample:${namespace}`;
  // A PostgreSQL identifier: lower case, letters, digits and '_', 63 bytes at most.
  const schema = `warren_sample${namespace ? `_${namespace.toLowerCase().replace(/[^a-z0-9_]+/g, '_')}` : ''}`.slice(0, 63).replace(/_+$/, '');
  return {
    database: { schema, orders: `${schema}.orders`, outbox: `${schema}.outbox` },
    exchanges: {
      orders: n('orders'),
      inventory: n('inventory'),
      broadcast: n('broadcast'),
      documents: n('documents'),
      notifications: n('notifications'),
    },
    queues: {
      inventoryRpc: n('inventory.rpc'),
      payments,
      paymentsDlq: `${payments}.dlq`,
      notificationEvents: n('notifications.order-events'),
      receipts: n('notifications.receipts'),
      shipping: n('notifications.shipping'),
      reminderWait: n('notifications.reminders.wait'),
      reminders: n('notifications.reminders'),
    },
    routingKeys: {
      orderCreated: 'order.created',
      orderRejected: 'order.rejected',
      orderPaid: 'order.paid',
      orderPaymentFailed: 'order.payment_failed',
      orderAny: 'order.*',
      inventoryReserve: 'inventory.reserve',
      reminderDue: 'reminder.payment',
    },
    redisPrefix: prefix,
    keys: {
      payments: `${prefix}payments`,
      charges: `${prefix}gateway:charges`,
      notifications: `${prefix}notifications:sent`,
      timelineChannel: `${prefix}timeline`,
      dedupPrefix: `${prefix}dedup:`,
      paymentRuns: `${prefix}payments:runs`,
    },
  };
}
