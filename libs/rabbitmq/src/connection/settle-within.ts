/**
 * Waits for `promise` to settle, but no longer than `ms`. Resolves true if it settled
 * (fulfilled or rejected) in time; await the promise itself for its value or error. The
 * timer is cleared either way, so nothing outlives the wait.
 */
export async function settleWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const settled = await Promise.race([
    promise.then(
      () => true,
      () => true,
    ),
    new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
  ]);
  clearTimeout(timer);
  return settled;
}
