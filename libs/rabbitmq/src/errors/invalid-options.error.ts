import { WarrenError } from './warren.error';

/** Start-up options that cannot work; `problems` lists every one found. */
export class InvalidOptionsError extends WarrenError {
  constructor(readonly problems: string[]) {
    super(
      'INVALID_OPTIONS',
      `Invalid RabbitMQ options (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` + problems.map((p) => `  - ${p}`).join('\n'),
    );
  }
}
