/**
 * The messages the services exchange and the order record they share. Plain
 * types, no classes: they describe JSON on the wire and in Redis.
 */

/**
 * received        the POST is being handled (stock not reserved yet)
 * rejected        inventory refused (out of stock / unknown product)   terminal
 * accepted        stock reserved, order.created committed with the order (outbox), awaiting payment
 * paid            the card was charged                                  terminal
 * payment_failed  declined, or the gateway stayed down                  terminal until fixed and replayed
 */
export type OrderState = 'received' | 'rejected' | 'accepted' | 'paid' | 'payment_failed';

export const TERMINAL_STATES: readonly OrderState[] = ['rejected', 'paid', 'payment_failed'];

export interface OrderItem {
  sku: string;
  quantity: number;
}

export interface Order {
  id: string;
  /** The client's own id (idempotency key): the same one always yields the same order. */
  clientOrderId: string;
  customerId: string;
  items: OrderItem[];
  express: boolean;
  /** The payment method, as a token the (simulated) gateway interprets: tok_ok, tok_flaky, tok_declined, ... */
  cardToken: string;
  state: OrderState;
  /** Why the order was rejected or its payment failed. */
  reason?: string;
  totalCents?: number;
  /** Fingerprint of the request that created it: a reused client id with another body is refused. */
  requestHash: string;
  /** The order and its order.created were committed together (the outbox publishes the event). */
  published: boolean;
  paymentId?: string;
  createdAt: string;
  updatedAt: string;
}

/** A line of an order's history, as every service records it (and the demo prints it). */
export interface TimelineEntry {
  orderId: string;
  at: string;
  service: 'orders' | 'inventory' | 'payments' | 'notifications';
  instance: string;
  event: string;
  detail?: string;
}

/** order.created */
export interface OrderCreatedEvent {
  orderId: string;
  customerId: string;
  items: OrderItem[];
  totalCents: number;
  express: boolean;
}

/** order.rejected */
export interface OrderRejectedEvent {
  orderId: string;
  customerId: string;
  reason: string;
}

/** order.paid */
export interface OrderPaidEvent {
  orderId: string;
  customerId: string;
  paymentId: string;
  totalCents: number;
  express: boolean;
}

/** order.payment_failed */
export interface OrderPaymentFailedEvent {
  orderId: string;
  customerId: string;
  reason: string;
  /** false when the card was declined; true when the gateway gave up (may succeed on replay). */
  transient: boolean;
}

/** A receipt, published to the headers exchange with `kind: 'receipt'`. */
export interface ReceiptDocument {
  orderId: string;
  customerId: string;
  paymentId: string;
  totalCents: number;
}

/** A reminder waiting in the TTL queue. */
export interface PaymentReminder {
  orderId: string;
  customerId: string;
}

/** A message on the fanout exchange. */
export interface Broadcast {
  message: string;
  sentAt: string;
}

/** inventory.reserve request. */
export interface ReserveRequest {
  orderId: string;
  items: OrderItem[];
}

/** inventory.reserve reply. */
export interface ReserveReply {
  orderId: string;
  reservationId: string;
  lines: Array<OrderItem & { unitPriceCents: number }>;
  totalCents: number;
}

/** The `code` of the errors inventory.reserve throws (they reach the caller as RpcRemoteError.remoteCode). */
export const INVENTORY_ERRORS = {
  outOfStock: 'OUT_OF_STOCK',
  unknownSku: 'UNKNOWN_SKU',
  invalidRequest: 'INVALID_REQUEST',
} as const;

/** `data` of an OUT_OF_STOCK error. */
export interface OutOfStockData {
  sku: string;
  requested: number;
  available: number;
}
