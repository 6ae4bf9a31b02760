import { Redis } from 'ioredis';
import { maskUrl } from './sample-config';

/** Thrown at start-up when Redis does not answer; says what to do. */
export class RedisUnavailableError extends Error {
  constructor(
    readonly url: string,
    cause: unknown,
  ) {
    super(
      `Redis does not answer at ${maskUrl(url)} (${cause instanceof Error ? cause.message : String(cause)}). ` +
        `Start one ('redis-server --daemonize yes' or 'docker run -d -p 6379:6379 redis:7') or set REDIS_URL.`,
      { cause },
    );
    this.name = 'RedisUnavailableError';
  }
}

/**
 * Connects an ioredis client and fails fast (instead of retrying forever) when
 * Redis is not there at start-up; once connected it reconnects in the background.
 */
export async function connectRedis(url: string, connectionName: string, timeoutMs = 3000): Promise<Redis> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectionName,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 3,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  });
  // Without a listener ioredis prints every failed reconnect attempt.
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    client.disconnect();
    throw new RedisUnavailableError(url, error);
  }
  return client;
}
