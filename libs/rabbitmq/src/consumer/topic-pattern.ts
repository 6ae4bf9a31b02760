/**
 * Compiles an AMQP topic binding pattern (`*` one word, `#` zero or more words)
 * into a matcher. A pattern without wildcards matches its exact key, so direct
 * routing keys work too.
 */
export function compileTopicPattern(pattern: string): (routingKey: string) => boolean {
  if (!pattern.includes('*') && !pattern.includes('#')) return (key) => key === pattern;
  const words = pattern.split('.');
  return (key) => matchWords(words, 0, key.split('.'), 0);
}

function matchWords(pattern: string[], p: number, key: string[], k: number): boolean {
  while (p < pattern.length) {
    const word = pattern[p];
    if (word === '#') {
      if (p === pattern.length - 1) return true;
      for (let skip = k; skip <= key.length; skip++) {
        if (matchWords(pattern, p + 1, key, skip)) return true;
      }
      return false;
    }
    if (k >= key.length) return false;
    if (word !== '*' && word !== key[k]) return false;
    p++;
    k++;
  }
  return k === key.length;
}
