/**
 * Where a stream reader with no stored position starts: the first message the stream still
 * holds, the last chunk written, only messages written from now on, the first message written at
 * or after a point in time, or a numeric offset.
 */
export type StreamOffset = 'first' | 'last' | 'next' | Date | number;

/**
 * Remembers how far each stream reader has got. AMQP 0.9.1 has no server-side offset tracking
 * (the broker's `store_offset` belongs to the stream protocol), so the position lives here.
 * `save` is called with ever larger offsets of one reader; an implementation keeps the largest.
 */
export interface StreamOffsetStore {
  /** The last offset `reader` handled, or undefined if it never saved one. */
  load(reader: string): Promise<number | undefined>;
  /** Records that `reader` handled every message up to `offset`. */
  save(reader: string, offset: number): Promise<void>;
  /** Optional: close connections owned by the store. */
  close?(): Promise<void>;
}

/** Consuming a stream queue (`queueOptions: { type: 'stream' }`) as a reader with a position. */
export interface StreamConsumeOptions {
  /**
   * Where to start when the store has no position for this reader (or there is no store).
   * @default 'next'
   */
  offset?: StreamOffset;
  /**
   * Keeps the reader's position, so that a restarted reader resumes after the last message it
   * handled. Without a store a reader resumes where it was across reconnects of one process, and a
   * new process starts at `offset`.
   */
  store?: StreamOffsetStore;
  /**
   * The reader's name in the store: readers with different names read the stream independently.
   * @default the handler's name
   */
  reader?: string;
}
