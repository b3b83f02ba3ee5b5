/**
 * Sequential reads of a binary file in large chunks, for the positional formats (fvecs,
 * bvecs, npy): `take(n)` returns the next n bytes (a view, valid until the next call) or
 * fewer at the end of the file.
 */
import { open } from "node:fs/promises";

const chunkBytes = 4 * 1024 * 1024;

export class ChunkReader {
  private buffer = new Uint8Array(0);
  private start = 0;
  private end = 0;
  /** File offset of buffer[0]. */
  private base = 0;
  private eof = false;

  private constructor(private readonly handle: Awaited<ReturnType<typeof open>>) {}

  static async open(file: string): Promise<ChunkReader> {
    return new ChunkReader(await open(file, "r"));
  }

  /** Offset in the file of the next byte `take` returns. */
  get offset(): number {
    return this.base + this.start;
  }

  async take(n: number): Promise<Uint8Array> {
    while (this.end - this.start < n && !this.eof) await this.fill(n);
    const length = Math.min(n, this.end - this.start);
    const view = this.buffer.subarray(this.start, this.start + length);
    this.start += length;
    return view;
  }

  /** Moves to an absolute offset (forward or back). */
  seek(offset: number): void {
    this.base = offset;
    this.start = 0;
    this.end = 0;
    this.eof = false;
  }

  private async fill(atLeast: number): Promise<void> {
    const kept = this.end - this.start;
    const size = Math.max(chunkBytes, atLeast);
    const next = new Uint8Array(size);
    next.set(this.buffer.subarray(this.start, this.end), 0);
    const { bytesRead } = await this.handle.read(next, kept, size - kept, this.base + this.end);
    this.base += this.start;
    this.buffer = next;
    this.start = 0;
    this.end = kept + bytesRead;
    if (bytesRead === 0) this.eof = true;
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}
