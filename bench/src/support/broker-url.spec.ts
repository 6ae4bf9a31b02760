import { assertLoopbackUrl, isLoopbackHost, maskUrl } from './broker-url';

describe('isLoopbackHost', () => {
  it.each(['localhost', 'LOCALHOST', '127.0.0.1', '127.1.2.3', '::1', '[::1]', '::ffff:127.0.0.1'])('accepts %s', (host) => {
    expect(isLoopbackHost(host)).toBe(true);
  });

  it.each(['10.0.0.1', '192.168.1.10', '172.16.0.1', '8.8.8.8', 'rabbitmq', 'localhost.example.com', '127.0.0.256', '128.0.0.1', '::2', ''])(
    'refuses %s',
    (host) => {
      expect(isLoopbackHost(host)).toBe(false);
    },
  );
});

describe('assertLoopbackUrl', () => {
  it('returns the parsed URL of a loopback broker', () => {
    expect(assertLoopbackUrl('amqp://guest:guest@127.0.0.1:5672').port).toBe('5672');
    expect(assertLoopbackUrl('amqp://localhost').hostname).toBe('localhost');
  });

  it('refuses other hosts, other protocols and garbage, without echoing the password', () => {
    expect(() => assertLoopbackUrl('amqp://guest:secret@10.1.2.3:5672')).toThrow(/only loopback/);
    expect(() => assertLoopbackUrl('http://127.0.0.1')).toThrow(/amqp/);
    expect(() => assertLoopbackUrl('not a url:secret@')).toThrow(/not a valid URL/);
    expect(() => assertLoopbackUrl(undefined)).toThrow();
    try {
      assertLoopbackUrl('amqp://guest:secret@example.com');
    } catch (err) {
      expect((err as Error).message).not.toContain('secret');
    }
  });
});

describe('maskUrl', () => {
  it('hides the password', () => {
    expect(maskUrl('amqp://guest:secret@127.0.0.1:5672')).toBe('amqp://guest:***@127.0.0.1:5672');
    expect(maskUrl('amqp://127.0.0.1')).toBe('amqp://127.0.0.1');
  });
});
