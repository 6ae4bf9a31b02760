import { Logger, type INestApplicationContext } from '@nestjs/common';
import { ConnectionFailedError } from '@warren/rabbitmq';
import { RedisUnavailableError } from './redis-client.factory';
import { loadSampleConfig, maskUrl, type SampleConfig } from './sample-config';

/**
 * The body of every `main.ts`: reads the configuration, starts the service,
 * and turns the usual start-up failures (no broker, no Redis, bad settings)
 * into one clear message and exit code 1 instead of a stack trace or a hang.
 */
export async function runService(service: string, start: (config: SampleConfig) => Promise<INestApplicationContext>): Promise<void> {
  const logger = new Logger(service);
  let config: SampleConfig;
  try {
    config = loadSampleConfig();
  } catch (error) {
    logger.error((error as Error).message);
    process.exit(1);
  }
  Logger.overrideLogger(config.logLevels);
  logger.log(
    `starting (instance ${config.instanceId}, broker ${config.amqpUrls.map(maskUrl).join(', ')}, redis ${maskUrl(config.redisUrl)}` +
      `${config.namespace ? `, namespace '${config.namespace}'` : ''}, ${config.queueType} queues)`,
  );
  try {
    const app = await start(config);
    app.enableShutdownHooks();
    if (process.send) {
      // Started by the sample launcher (IPC channel): stop when it goes away, even if it was killed.
      process.once('disconnect', () => void app.close().finally(() => process.exit(0)));
    }
  } catch (error) {
    if (error instanceof ConnectionFailedError || error instanceof RedisUnavailableError) {
      logger.error(error.message);
    } else {
      logger.error(`failed to start: ${(error as Error)?.stack ?? String(error)}`);
    }
    process.exit(1);
  }
}
