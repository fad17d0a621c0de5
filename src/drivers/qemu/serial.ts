// A VM's serial console: the file its QEMU writes (-serial file:), the output it added since the
// last epoch, and a running digest of everything the VM output over all its QEMUs.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, readFileSync, statSync } from 'node:fs';
import type { OutputChunk } from '../types.js';

export class SerialConsole {
  readonly path: string;
  /** Bytes of the current file already output. */
  private offset = 0;
  private readonly hash: Hash = createHash('sha256');

  constructor(path: string) {
    this.path = path;
  }

  /** Where the output taken so far ends in the current file. */
  get position(): number {
    return this.offset;
  }

  /**
   * A new QEMU writes a new file. Its first `repeated` bytes were output before (a replayer
   * restarted from an earlier boundary prints them again), so they are not output anew.
   */
  restart(repeated = 0): void {
    this.offset = repeated;
  }

  /** The bytes written since the last call (none while the file has not grown). */
  async take(): Promise<OutputChunk[]> {
    const size = statSync(this.path, { throwIfNoEntry: false })?.size ?? 0;
    if (size <= this.offset) return [];
    const chunks: Buffer[] = [];
    for await (const chunk of createReadStream(this.path, { start: this.offset, end: size - 1 })) chunks.push(chunk as Buffer);
    this.offset = size;
    const bytes = Buffer.concat(chunks);
    this.hash.update(bytes);
    return [{ stream: 'serial', bytes: new Uint8Array(bytes) }];
  }

  /** Digest (hex) of every byte taken so far. */
  digest(): string {
    return this.hash.copy().digest('hex');
  }

  shows(text: string): boolean {
    return readFileSync(this.path).includes(text);
  }
}
