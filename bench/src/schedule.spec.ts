import { planTrials } from './schedule';

describe('planTrials', () => {
  it('rotates the contenders by one position each round', () => {
    const plan = planTrials(3, ['publish'], ['amqplib', 'warren', 'golevelup', 'nest-rmq']);
    const byRound = [0, 1, 2].map((r) => plan.filter((p) => p.round === r).map((p) => p.contender));
    expect(byRound).toEqual([
      ['amqplib', 'warren', 'golevelup', 'nest-rmq'],
      ['warren', 'golevelup', 'nest-rmq', 'amqplib'],
      ['golevelup', 'nest-rmq', 'amqplib', 'warren'],
    ]);
  });

  it('runs every scenario of a round before the next round, in the given scenario order', () => {
    const plan = planTrials(2, ['publish', 'consume'], ['amqplib', 'golevelup']);
    expect(plan.map((p) => `${p.round}:${p.scenario}:${p.contender}`)).toEqual([
      '0:publish:amqplib',
      '0:publish:golevelup',
      '0:consume:amqplib',
      '0:consume:golevelup',
      '1:publish:golevelup',
      '1:publish:amqplib',
      '1:consume:golevelup',
      '1:consume:amqplib',
    ]);
  });

  it('gives a Warren-only scenario only the contenders it lists, keeping the rotation', () => {
    const plan = planTrials(2, ['startup'], ['amqplib', 'warren', 'golevelup', 'nest-rmq']);
    expect(plan.map((p) => `${p.round}:${p.contender}:${p.order}`)).toEqual(['0:warren:0', '0:golevelup:1', '1:warren:0', '1:golevelup:1']);
  });

  it('keeps the catalog order of contenders whatever order they are given in', () => {
    const plan = planTrials(1, ['publish'], ['nest-rmq', 'amqplib']);
    expect(plan.map((p) => p.contender)).toEqual(['amqplib', 'nest-rmq']);
  });
});
