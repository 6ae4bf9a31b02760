import type { HandlerDescriptor } from './handler-descriptor';
import { validateStream } from './validate-stream';

const reader = (config: Partial<HandlerDescriptor['config']>): HandlerDescriptor =>
  ({
    name: 'Audit.read',
    kind: 'subscribe',
    config: { queue: 'log', queueOptions: { type: 'stream' }, stream: { offset: 'first' }, ...config },
  }) as HandlerDescriptor;

describe('validateStream', () => {
  it('accepts a reader of a stream queue on a channel of its own', () => {
    expect(validateStream(reader({}))).toEqual([]);
  });

  it('refuses a shared channel: a reader closes its channel to stop, which would stop the others on it', () => {
    expect(validateStream(reader({ channel: 'shared' }))).toEqual([expect.stringContaining("a stream reader cannot use a shared channel ('channel')")]);
  });
});
