import { Logger, type INestApplicationContext, type ModuleMetadata } from '@nestjs/common';
import { Test } from '@nestjs/testing';

/** Boots a Nest application context from module metadata and returns it initialised. */
export async function createApp(metadata: ModuleMetadata, logger?: Logger): Promise<INestApplicationContext> {
  const moduleRef = await Test.createTestingModule(metadata).compile();
  moduleRef.useLogger(logger ?? (process.env.TEST_LOGS ? new Logger() : ['error']));
  await moduleRef.init();
  return moduleRef;
}

/** Collects log lines so tests can assert on what an operator would see. */
export class CapturingLogger extends Logger {
  readonly lines: string[] = [];
  override log(message: unknown, ...rest: unknown[]): void {
    this.lines.push(`LOG ${String(message)} ${rest.join(' ')}`);
  }
  override warn(message: unknown, ...rest: unknown[]): void {
    this.lines.push(`WARN ${String(message)} ${rest.join(' ')}`);
  }
  override error(message: unknown, ...rest: unknown[]): void {
    this.lines.push(`ERROR ${String(message)} ${rest.join(' ')}`);
  }
  override debug(message: unknown, ...rest: unknown[]): void {
    this.lines.push(`DEBUG ${String(message)} ${rest.join(' ')}`);
  }
  override verbose(): void {}
}
