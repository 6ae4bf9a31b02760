import { WarrenError } from './warren.error';

/** An option key that no option has, where it was found, and the closest known name. */
export interface UnknownOption {
  /** Where, e.g. `connection 'default': exchanges[0].typ`. */
  path: string;
  /** The closest known name at that place, when one is close enough to be a typo. */
  didYouMean?: string;
}

/** Start-up options that cannot work; `problems` lists every one found, `unknownOptions` the keys no option has. */
export class InvalidOptionsError extends WarrenError {
  constructor(
    readonly problems: string[],
    readonly unknownOptions: UnknownOption[] = [],
  ) {
    super(
      'INVALID_OPTIONS',
      `Invalid RabbitMQ options (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` + problems.map((p) => `  - ${p}`).join('\n'),
    );
  }
}
