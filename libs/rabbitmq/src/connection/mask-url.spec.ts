import { maskUrl } from './mask-url';

describe('maskUrl', () => {
  it('hides the password', () => {
    expect(maskUrl('amqp://guest:s3cret@localhost:5672/vh')).toBe('amqp://guest:***@localhost:5672/vh');
    expect(maskUrl('amqps://u:p%40ss@host')).toBe('amqps://u:***@host');
  });

  it('leaves URLs without a password alone', () => {
    expect(maskUrl('amqp://localhost')).toBe('amqp://localhost');
    expect(maskUrl('amqp://user@localhost')).toBe('amqp://user@localhost');
  });
});
