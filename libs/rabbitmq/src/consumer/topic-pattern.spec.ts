import { compileTopicPattern } from './topic-pattern';

describe('compileTopicPattern', () => {
  const cases: Array<[string, string, boolean]> = [
    ['order.created', 'order.created', true],
    ['order.created', 'order.paid', false],
    ['order.*', 'order.created', true],
    ['order.*', 'order.created.eu', false],
    ['order.*', 'order', false],
    ['order.#', 'order', true],
    ['order.#', 'order.created.eu', true],
    ['#', '', true],
    ['#', 'a.b.c', true],
    ['*.created', 'order.created', true],
    ['#.created', 'a.b.created', true],
    ['#.created', 'created', true],
    ['a.#.z', 'a.z', true],
    ['a.#.z', 'a.b.c.z', true],
    ['a.#.z', 'a.b.c', false],
    ['a.*.#', 'a', false],
    ['a.*.#', 'a.b', true],
  ];
  it.each(cases)('%s against %s is %s', (pattern, key, expected) => {
    expect(compileTopicPattern(pattern)(key)).toBe(expected);
  });
});
