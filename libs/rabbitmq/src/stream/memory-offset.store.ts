import type { StreamOffsetStore } from '../options/stream-options.interface';

/** A `StreamOffsetStore` in this process's memory: positions survive reconnects and app restarts in one process, not the process. */
export class MemoryStreamOffsetStore implements StreamOffsetStore {
  private readonly offsets = new Map<string, number>();

  load(reader: string): Promise<number | undefined> {
    return Promise.resolve(this.offsets.get(reader));
  }

  save(reader: string, offset: number): Promise<void> {
    const current = this.offsets.get(reader);
    if (current === undefined || offset > current) this.offsets.set(reader, offset);
    return Promise.resolve();
  }
}
