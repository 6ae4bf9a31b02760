/**
 * The shape of an options object, for start-up validation: which keys exist at every depth
 * and what type each takes. A key that is not in the shape is reported with its path and
 * the closest known name, so a typo never passes silently.
 */
export type OptionShape =
  | 'string'
  | 'number'
  | 'boolean'
  | 'function'
  /** Any value: checked elsewhere, or passed to amqplib as is. */
  | 'any'
  /** A plain object whose keys are free (queue arguments, headers, socket options). */
  | 'record'
  | { readonly fields: Readonly<Record<string, OptionShape>> }
  | { readonly each: OptionShape }
  | { readonly values: OptionShape }
  | { readonly oneOf: readonly OptionShape[] }
  | { readonly literal: readonly unknown[] }
  /** An object with methods (a serializer, a store, a telemetry hook): its own keys are its business. */
  | { readonly instance: string }
  /** A known name whose meaning Warren cannot keep: any value is a problem, and this says what to use instead. */
  | { readonly rejected: string };

/** One problem found in an options object. */
export interface OptionProblem {
  /** Where, e.g. `exchanges[0].typ` or `queueOptions.durabel`. */
  path: string;
  message: string;
  /** True for a key that no option has. */
  unknown?: boolean;
  /** For an unknown key: the closest known name at that place, if one is close. */
  didYouMean?: string;
}

/** Problems as InvalidOptionsError takes them, each path prefixed with `where` (e.g. `connection 'default': `). */
export function toInvalidOptions(problems: OptionProblem[], where: string): { messages: string[]; unknown: Array<{ path: string; didYouMean?: string }> } {
  return {
    messages: problems.map((p) => `${where}${p.message}`),
    unknown: problems.filter((p) => p.unknown).map((p) => ({ path: `${where}${p.path}`, didYouMean: p.didYouMean })),
  };
}

/** Checks `value` against `shape`; returns every problem, each with its path under `root`. */
export function checkShape(value: unknown, shape: OptionShape, root = ''): OptionProblem[] {
  const problems: OptionProblem[] = [];
  visit(value, shape, root, problems);
  return problems;
}

function visit(value: unknown, shape: OptionShape, path: string, problems: OptionProblem[]): void {
  if (value === undefined) return;
  const where = path || 'options';
  if (typeof shape === 'string') {
    if (shape === 'any') return;
    if (shape === 'record') {
      if (!isPlainObject(value)) problems.push({ path: where, message: `${where} must be an object (got ${describe(value)})` });
      return;
    }
    if (typeof value !== shape || (shape === 'number' && !Number.isFinite(value))) {
      problems.push({ path: where, message: `${where} must be a ${shape} (got ${describe(value)})` });
    }
    return;
  }
  if ('rejected' in shape) {
    problems.push({ path: where, message: `${where} is not supported: ${shape.rejected}` });
    return;
  }
  if ('literal' in shape) {
    if (!shape.literal.includes(value)) {
      problems.push({ path: where, message: `${where} must be one of ${shape.literal.map((v) => JSON.stringify(v)).join(', ')} (got ${describe(value)})` });
    }
    return;
  }
  if ('instance' in shape) {
    if (value === null || (typeof value !== 'object' && typeof value !== 'function')) {
      problems.push({ path: where, message: `${where} must be ${shape.instance} (got ${describe(value)})` });
    }
    return;
  }
  if ('oneOf' in shape) {
    // The first alternative of the value's own kind decides, so the problems reported are about the shape meant.
    const candidates = shape.oneOf.filter((s) => kindMatches(value, s));
    if (candidates.length === 0) {
      problems.push({ path: where, message: `${where} must be ${shape.oneOf.map(kindName).join(' or ')} (got ${describe(value)})` });
      return;
    }
    visit(value, candidates[0], path, problems);
    return;
  }
  if ('each' in shape) {
    if (!Array.isArray(value)) {
      problems.push({ path: where, message: `${where} must be an array (got ${describe(value)})` });
      return;
    }
    value.forEach((item, index) => visit(item, shape.each, `${path}[${index}]`, problems));
    return;
  }
  if (!isPlainObject(value)) {
    problems.push({ path: where, message: `${where} must be an object (got ${describe(value)})` });
    return;
  }
  if ('values' in shape) {
    for (const [key, item] of Object.entries(value)) visit(item, shape.values, join(path, key), problems);
    return;
  }
  const known = Object.keys(shape.fields);
  for (const [key, item] of Object.entries(value)) {
    const field = shape.fields[key];
    if (field === undefined) {
      const didYouMean = closest(key, known);
      const at = join(path, key);
      problems.push({
        path: at,
        message: `${at}: unknown option${didYouMean === undefined ? '' : `; did you mean ${join(path, didYouMean)}?`}`,
        unknown: true,
        didYouMean,
      });
      continue;
    }
    visit(item, field, join(path, key), problems);
  }
}

function join(path: string, key: string): string {
  const part = /^[A-Za-z_$][\w$]*$/.test(key) ? key : JSON.stringify(key);
  if (path === '') return part;
  return /^[A-Za-z_$]/.test(part) ? `${path}.${part}` : `${path}[${part}]`;
}

function kindMatches(value: unknown, shape: OptionShape): boolean {
  if (typeof shape === 'string') {
    if (shape === 'any') return true;
    if (shape === 'record') return isPlainObject(value);
    return typeof value === shape;
  }
  if ('rejected' in shape) return true;
  if ('literal' in shape) return shape.literal.includes(value);
  if ('instance' in shape) return value !== null && (typeof value === 'object' || typeof value === 'function');
  if ('oneOf' in shape) return shape.oneOf.some((s) => kindMatches(value, s));
  if ('each' in shape) return Array.isArray(value);
  return isPlainObject(value);
}

function kindName(shape: OptionShape): string {
  if (typeof shape === 'string') return shape === 'record' ? 'an object' : `a ${shape}`;
  if ('rejected' in shape) return 'nothing';
  if ('literal' in shape) return shape.literal.map((v) => JSON.stringify(v)).join(' or ');
  if ('instance' in shape) return shape.instance;
  if ('oneOf' in shape) return shape.oneOf.map(kindName).join(' or ');
  if ('each' in shape) return 'an array';
  return 'an object';
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value) as unknown;
  return prototype === Object.prototype || prototype === null;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `'${value.length > 40 ? `${value.slice(0, 40)}…` : value}'`;
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'function') return 'a function';
  return `${typeof value} ${String(value)}`;
}

/** The known name closest to `key` by edit distance (case differences count half), if it is close enough to be a typo. */
export function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const distance = editDistance(key, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const limit = Math.max(2, Math.floor(key.length / 3));
  if (bestDistance <= limit) return best;
  // A name cut short (`prefetch` for `prefetchCount`) is far by edits but plainly meant.
  const lower = key.toLowerCase();
  if (key.length < 4) return undefined;
  return known.filter((candidate) => candidate.toLowerCase().startsWith(lower)).sort((a, b) => a.length - b.length)[0];
}

/** Levenshtein distance where a change of case only costs 0.5: `prefetchcount` is closer to `prefetchCount` than to `prefetch`. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const x = a[i - 1];
      const y = b[j - 1];
      const substitution = x === y ? 0 : x.toLowerCase() === y.toLowerCase() ? 0.5 : 1;
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + substitution);
    }
    previous = current;
  }
  return previous[b.length];
}
