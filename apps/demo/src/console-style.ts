/** ANSI styling, switched off when the output is not a terminal (or NO_COLOR is set). */
export class ConsoleStyle {
  constructor(private readonly enabled = process.stdout.isTTY === true && !process.env.NO_COLOR) {}

  private wrap(code: string, text: string): string {
    return this.enabled ? `\x1b[${code}m${text}\x1b[0m` : text;
  }

  bold = (text: string): string => this.wrap('1', text);
  dim = (text: string): string => this.wrap('2', text);
  red = (text: string): string => this.wrap('31', text);
  green = (text: string): string => this.wrap('32', text);
  yellow = (text: string): string => this.wrap('33', text);
  blue = (text: string): string => this.wrap('34', text);
  magenta = (text: string): string => this.wrap('35', text);
  cyan = (text: string): string => this.wrap('36', text);

  /** Visible width of a string (ANSI codes excluded). */
  static width(text: string): number {
    // eslint-disable-next-line no-control-regex
    return text.replace(/\x1b\[[0-9;]*m/g, '').length;
  }
}

/** Renders rows as a table with a header line. */
export function renderTable(headers: string[], rows: string[][], style: ConsoleStyle): string {
  const widths = headers.map((header, i) => Math.max(ConsoleStyle.width(header), ...rows.map((row) => ConsoleStyle.width(row[i] ?? ''))));
  const pad = (cell: string, i: number): string => cell + ' '.repeat(Math.max(0, widths[i] - ConsoleStyle.width(cell)));
  const line = (cells: string[]): string => `  ${cells.map(pad).join('  ').trimEnd()}`;
  const head = headers.some((header) => header !== '') ? [style.bold(line(headers)), style.dim(`  ${widths.map((w) => '─'.repeat(w)).join('  ')}`)] : [];
  return [...head, ...rows.map(line)].join('\n');
}
