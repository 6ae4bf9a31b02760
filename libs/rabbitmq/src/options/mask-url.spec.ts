import { maskUrl } from './mask-url';

describe('maskUrl', () => {
  it('hides the password', () => {
    expect(maskUrl('amqp://guest:s3cret@localhost:5672/vh')).toBe('amqp://guest:***@localhost:5672/vh');
    expect(maskUrl('amqps://u:p%40ss@host')).toBe('amqps://u:***@host');
  });

  it('hides passwords with raw special characters, and in URLs of any scheme', () => {
    expect(maskUrl('amqp://u:pa:ss@host')).toBe('amqp://u:***@host');
    expect(maskUrl('amqp://u:pa/ss@host:5672')).toBe('amqp://u:***@host:5672');
    expect(maskUrl('amqp://u:p@ss@host')).toBe('amqp://u:***@host');
    expect(maskUrl('http://u:s3cret@host')).toBe('http://u:***@host');
    expect(maskUrl('u:s3cret@host')).toBe('u:***@host');
  });

  it('leaves URLs without a password alone', () => {
    expect(maskUrl('amqp://user@localhost:5672')).toBe('amqp://user@localhost:5672');
    expect(maskUrl('amqp://localhost')).toBe('amqp://localhost');
    expect(maskUrl('amqp://user@localhost')).toBe('amqp://user@localhost');
  });
});
