/** What the dashboard shows of a payload: never more than the configured bytes, masked fields replaced. */
export interface PayloadPreview {
  /** `json`: parsed and re-indented (masks applied); `text`: UTF-8 text; `binary`: hex of the first bytes; `hidden`: not shown (see `note`). */
  kind: 'json' | 'text' | 'binary' | 'hidden' | 'empty';
  text: string;
  /** Size of the whole payload. */
  bytes: number;
  /** Bytes of the rendered preview that were cut. */
  cut: number;
  /** Values replaced by the masks. */
  masked: number;
  note?: string;
}

export const MASK = '***';
/** Larger payloads are not parsed for a preview. */
const MAX_PARSE_BYTES = 1_048_576;
const HEX_BYTES = 64;

/** Replaces the values at `paths` (dot-separated, `*` any key or index) in a parsed JSON value; returns how many. */
export function maskJson(value: unknown, paths: readonly string[]): number {
  let count = 0;
  const visit = (node: unknown, segments: string[]): void => {
    if (node === null || typeof node !== 'object' || segments.length === 0) return;
    const [head, ...rest] = segments;
    const record = node as Record<string, unknown>;
    const keys = head === '*' ? Object.keys(record) : Object.prototype.hasOwnProperty.call(record, head) ? [head] : [];
    for (const key of keys) {
      if (rest.length === 0) {
        record[key] = MASK;
        count++;
      } else visit(record[key], rest);
    }
  };
  for (const path of paths) visit(value, path.split('.'));
  return count;
}

function cutTo(text: string, limit: number): { text: string; cut: number } {
  const bytes = Buffer.byteLength(text);
  if (bytes <= limit) return { text, cut: 0 };
  const kept = Buffer.from(text)
    .subarray(0, limit)
    .toString('utf8')
    .replace(/\uFFFD+$/, '');
  return { text: kept, cut: bytes - Buffer.byteLength(kept) };
}

const decoder = new TextDecoder('utf-8', { fatal: true });

function asText(content: Buffer): string | undefined {
  try {
    const text = decoder.decode(content);
    // Control characters other than tab and line breaks: treat as binary.
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      if ((code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d) || code === 0x7f) return undefined;
    }
    return text;
  } catch {
    return undefined;
  }
}

/**
 * A bounded, masked preview of a message body. JSON is parsed (up to 1 MiB), masked and indented; with
 * masks configured, a body that cannot be parsed as JSON is not shown at all, since its fields cannot be masked.
 */
export function previewPayload(content: Buffer, maskPaths: readonly string[], limit: number): PayloadPreview {
  const bytes = content.length;
  if (bytes === 0) return { kind: 'empty', text: '', bytes, cut: 0, masked: 0 };
  const text = bytes <= MAX_PARSE_BYTES ? asText(content) : undefined;
  if (text !== undefined) {
    let parsed: unknown;
    let isJson: boolean;
    try {
      parsed = JSON.parse(text);
      isJson = true;
    } catch {
      isJson = false;
    }
    if (isJson) {
      const masked = maskJson(parsed, maskPaths);
      const shown = cutTo(JSON.stringify(parsed, null, 2), limit);
      return { kind: 'json', text: shown.text, bytes, cut: shown.cut, masked };
    }
  }
  if (maskPaths.length > 0) {
    const why = bytes > MAX_PARSE_BYTES ? `larger than ${MAX_PARSE_BYTES} bytes` : 'not JSON';
    return { kind: 'hidden', text: '', bytes, cut: 0, masked: 0, note: `not shown: the payload is ${why}, so the configured masks cannot be applied` };
  }
  if (text !== undefined) {
    const shown = cutTo(text, limit);
    return { kind: 'text', text: shown.text, bytes, cut: shown.cut, masked: 0 };
  }
  const head = content.subarray(0, Math.min(HEX_BYTES, limit));
  const hex = head.toString('hex').replace(/(.{2})(?!$)/g, '$1 ');
  return { kind: 'binary', text: hex, bytes, cut: 0, masked: 0, note: `binary: the first ${head.length} of ${bytes} bytes, in hex` };
}
