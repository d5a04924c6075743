import { promises as fs } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../../files/atomic-file';
import type { EngineState } from './key-record';

/**
 * The engine's state on disk: one JSON file replaced atomically. Writes are group-committed:
 * mutations made while a write is in flight go out together in the next write, and each caller's
 * `commit()` resolves only once a write that contains its mutation is durable.
 */
export class StateFile {
  private waiting: { resolve: () => void; reject: (err: unknown) => void }[] = [];
  private writing = false;
  private idle: Promise<void> = Promise.resolve();
  private markIdle: () => void = () => undefined;

  private constructor(
    private readonly file: string,
    private readonly snapshot: () => EngineState,
  ) {}

  static async open(dir: string, snapshot: () => EngineState): Promise<{ store: StateFile; state?: EngineState }> {
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const file = path.join(dir, 'state.json');
    let state: EngineState | undefined;
    try {
      state = JSON.parse(await fs.readFile(file, 'utf8')) as EngineState;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot load ${file}: ${(err as Error).message}`);
    }
    return { store: new StateFile(file, snapshot), state };
  }

  commit(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      if (!this.writing) void this.drain();
    });
  }

  /** Resolves when no write is in flight. */
  flushed(): Promise<void> {
    return this.writing ? this.idle : Promise.resolve();
  }

  private async drain(): Promise<void> {
    this.writing = true;
    this.idle = new Promise((resolve) => (this.markIdle = resolve));
    while (this.waiting.length > 0) {
      const batch = this.waiting.splice(0);
      try {
        await writeFileAtomic(this.file, JSON.stringify(this.snapshot()));
        for (const w of batch) w.resolve();
      } catch (err) {
        for (const w of batch) w.reject(err);
      }
    }
    this.writing = false;
    this.markIdle();
  }
}
