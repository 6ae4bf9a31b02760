import type { Contender, ContenderName } from '../contender';

/**
 * Loads one contender. Each lives in its own module, required only when asked
 * for, so a trial loads one library and a broken library (Warren while it is
 * being written) cannot break the others.
 */
export function loadContender(name: ContenderName): Contender {
  /* eslint-disable @typescript-eslint/no-require-imports */
  switch (name) {
    case 'amqplib': {
      const { AmqplibContender } = require('./amqplib.contender') as typeof import('./amqplib.contender');
      return new AmqplibContender();
    }
    case 'amqplib-plain': {
      const { AmqplibContender } = require('./amqplib.contender') as typeof import('./amqplib.contender');
      return new AmqplibContender('amqplib-plain');
    }
    case 'warren': {
      const { createWarrenContender } = require('./warren.contender') as typeof import('./warren.contender');
      return createWarrenContender();
    }
    case 'golevelup': {
      const { createGolevelupContender } = require('./golevelup.contender') as typeof import('./golevelup.contender');
      return createGolevelupContender();
    }
    case 'nest-rmq': {
      const { NestRmqContender } = require('./nest-rmq.contender') as typeof import('./nest-rmq.contender');
      return new NestRmqContender();
    }
  }
  /* eslint-enable @typescript-eslint/no-require-imports */
}
