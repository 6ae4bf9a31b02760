/**
 * Runs `op(0..total-1)` with at most `concurrency` in flight, stopping early
 * (without error) once `deadline` (epoch ms) has passed. Returns how many
 * operations completed. The first failing operation rejects the whole run
 * after in-flight operations settle.
 */
export async function runBounded(total: number, concurrency: number, deadline: number, op: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  let completed = 0;
  // Boxed, so an operation that rejects with undefined still counts as a failure.
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < total && Date.now() < deadline) {
      const i = next++;
      try {
        await op(i);
        completed++;
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, total)) }, worker));
  if (failure !== undefined) throw failure.error;
  return completed;
}
