/**
 * The message of anything thrown, for a log line or an error message. Never throws, even
 * for values whose `message` getter or `toString` does (a thrown `Object.create(null)`).
 */
export function errorText(error: unknown): string {
  try {
    if (error instanceof Error) return error.message;
    if (error !== null && typeof error === 'object' && typeof (error as { message?: unknown }).message === 'string') {
      return (error as { message: string }).message;
    }
    return String(error);
  } catch {
    return 'an error that could not be read';
  }
}

/** `Name: message` of an Error, the JSON of another object, or the string of anything else: for logs and a retry's header. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  if (error !== null && typeof error === 'object') {
    try {
      return JSON.stringify(error);
    } catch {
      return String(error);
    }
  }
  return String(error);
}
