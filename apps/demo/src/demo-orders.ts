import type { OrderItem, OrderState } from '../../common/src/contracts';

/** One order the demo places, what it illustrates and how it must end. */
export interface DemoOrder {
  label: string;
  customer: string;
  story: string;
  items: OrderItem[];
  cardToken?: string;
  express?: boolean;
  /** POST it this many times with the same clientOrderId (a client retrying). */
  posts?: number;
  /** Publish its order.created a second time once it is paid (a redelivery). */
  republish?: boolean;
  /** The card is fixed and its dead letter replayed at the end. */
  fixAndReplay?: boolean;
  /** Its final state, after the dead-letter phase. */
  expect: OrderState;
}

export const DEMO_ORDERS: DemoOrder[] = [
  { label: '#01', customer: 'alice', story: 'a normal order', items: [{ sku: 'espresso-beans', quantity: 2 }], expect: 'paid' },
  { label: '#02', customer: 'bob', story: 'express: shipped first (priority queue)', items: [{ sku: 'grinder', quantity: 1 }], express: true, expect: 'paid' },
  { label: '#03', customer: 'carol', story: 'the gateway times out twice', items: [{ sku: 'kettle', quantity: 1 }], cardToken: 'tok_flaky', expect: 'paid' },
  {
    label: '#04',
    customer: 'dave',
    story: 'card declined, fixed, replayed',
    items: [{ sku: 'grinder', quantity: 1 }],
    cardToken: 'tok_declined',
    fixAndReplay: true,
    expect: 'paid',
  },
  { label: '#05', customer: 'erin', story: 'out of stock', items: [{ sku: 'sold-out-tin', quantity: 1 }], expect: 'rejected' },
  { label: '#06', customer: 'frank', story: 'buys 2 of the 3 limited mugs', items: [{ sku: 'limited-mug', quantity: 2 }], expect: 'paid' },
  { label: '#07', customer: 'grace', story: 'wants 2 mugs, 1 is left', items: [{ sku: 'limited-mug', quantity: 2 }], expect: 'rejected' },
  {
    label: '#08',
    customer: 'heidi',
    story: 'express, the gateway times out 3 times',
    items: [{ sku: 'filter-papers', quantity: 3 }],
    cardToken: 'tok_flaky_3',
    express: true,
    expect: 'paid',
  },
  { label: '#09', customer: 'ivan', story: 'the client sends its POST 3 times', items: [{ sku: 'kettle', quantity: 1 }], posts: 3, expect: 'paid' },
  {
    label: '#10',
    customer: 'judy',
    story: 'insufficient funds (left in the DLQ)',
    items: [{ sku: 'espresso-beans', quantity: 1 }],
    cardToken: 'tok_insufficient_funds',
    expect: 'payment_failed',
  },
  {
    label: '#11',
    customer: 'mallory',
    story: 'order.created is delivered twice',
    items: [{ sku: 'filter-papers', quantity: 1 }],
    republish: true,
    expect: 'paid',
  },
];
