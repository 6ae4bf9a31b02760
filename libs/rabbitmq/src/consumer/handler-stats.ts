/** Counts of one handler since start, in this process. */
export interface HandlerStats {
  /** Deliveries the handler completed (acked). */
  handled: number;
  /** Deliveries that failed (threw, rejected, or could not be read). */
  failed: number;
  /** Failures sent to a wait queue for a delayed retry. */
  retried: number;
  /** Failures parked in the dead-letter queue. */
  deadLettered: number;
  /** Deliveries acked without running the handler because their key was processed before. */
  duplicates: number;
}

export function emptyStats(): HandlerStats {
  return { handled: 0, failed: 0, retried: 0, deadLettered: 0, duplicates: 0 };
}
