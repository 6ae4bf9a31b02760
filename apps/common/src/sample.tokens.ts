/** Injection tokens of the sample's shared providers. */
export const SAMPLE_CONFIG = Symbol('SAMPLE_CONFIG');
export const SAMPLE_NAMES = Symbol('SAMPLE_NAMES');
export const SAMPLE_SERVICE = Symbol('SAMPLE_SERVICE');
/** The ioredis client of the process (data, not dedup: the dedup store gets its own). */
export const REDIS = Symbol('REDIS');
