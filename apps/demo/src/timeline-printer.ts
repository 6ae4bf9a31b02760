import type { TimelineEntry } from '../../common/src/contracts';
import { ConsoleStyle } from './console-style';

/**
 * Prints every timeline entry the services publish as it arrives:
 *   +1.23s  #03 carol    payments-2     payment attempt 1 failed · gateway timeout ...; retry scheduled
 */
export class TimelinePrinter {
  private readonly labels = new Map<string, string>();
  readonly entries: TimelineEntry[] = [];

  constructor(
    private readonly startedAt: number,
    private readonly style: ConsoleStyle,
  ) {}

  /** Names an order in the output ('#03 carol'). */
  name(orderId: string, label: string): void {
    this.labels.set(orderId, label);
  }

  labelOf(orderId: string): string {
    return this.labels.get(orderId) ?? orderId.slice(0, 8);
  }

  onEntry(entry: TimelineEntry): void {
    this.entries.push(entry);
    const who = entry.instance.split('@')[0];
    const text = entry.detail ? `${entry.event} ${this.style.dim(`· ${entry.detail}`)}` : entry.event;
    this.print(this.labelOf(entry.orderId), who, this.color(entry.event)(text));
  }

  /** A line from the demo itself (the client side). */
  client(orderLabel: string, text: string): void {
    this.print(orderLabel, 'client', this.style.bold(text));
  }

  note(text: string): void {
    this.print('', 'demo', this.style.magenta(text));
  }

  private print(order: string, who: string, text: string): void {
    const elapsed = `+${((Date.now() - this.startedAt) / 1000).toFixed(2)}s`.padStart(8);
    console.log(`${this.style.dim(elapsed)}  ${order.padEnd(12)} ${this.style.cyan(who.padEnd(15))} ${text}`);
  }

  private color(event: string): (text: string) => string {
    if (/^paid|shipment|receipt/.test(event)) return this.style.green;
    if (/rejected|failed|refused|unavailable/.test(event)) return this.style.red;
    if (/repeated|again|reminder/.test(event)) return this.style.yellow;
    return (text) => text;
  }
}
