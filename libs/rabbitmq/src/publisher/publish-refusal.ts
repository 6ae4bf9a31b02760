/** The broker refused a publish: the reply code and text of the channel.close it sent. */
export interface PublishRefusal {
  code: number;
  text: string;
}

/** AMQP class and method of basic.publish, as a channel.close names the method that caused it. */
const BASIC_PUBLISH = { classId: 60, methodId: 40 };

/** The refusal a channel 'error' event carries when the broker closed the channel because of a basic.publish; otherwise undefined. */
export function publishRefusalOf(error: unknown): PublishRefusal | undefined {
  const e = error as { code?: unknown; classId?: unknown; methodId?: unknown; message?: unknown } | null;
  if (e === null || typeof e !== 'object' || typeof e.code !== 'number') return undefined;
  if (e.classId !== BASIC_PUBLISH.classId || e.methodId !== BASIC_PUBLISH.methodId) return undefined;
  return { code: e.code, text: typeof e.message === 'string' ? e.message : '' };
}

/** 403 ACCESS_REFUSED and 404 NOT_FOUND refuse a publish for its exchange, so every publish to that exchange would fail the same way. */
export function refusesTheExchange(refusal: PublishRefusal): boolean {
  return refusal.code === 403 || refusal.code === 404;
}
