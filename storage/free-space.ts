/**
 * The free-space watermark: writes that add data are refused (STORAGE_FULL, retryable) while
 * the data volume's free space is below a threshold, so flushes, compactions, manifest commits
 * and recovery always find room to finish, and the volume never fills to the last byte.
 * Writes resume by themselves once space returns: each check looks at the volume again
 * (statfs, at most every `freeSpaceCheckIntervalMs`).
 *
 * The threshold is the larger of `minFreeBytes` and `minFreePercent` of the volume. Like
 * Elasticsearch's flood-stage watermark, but on free bytes rather than used percent, so a
 * small default works on small and large volumes alike.
 */
import { NeedleError } from "./errors.ts";
import { statfs } from "./files.ts";
import { storageRetryAfterSeconds } from "./fsync.ts";

export const freeSpaceMinBytesDefault = 64 * 1024 * 1024;
export const freeSpaceMinPercentDefault = 0;
/** A decision is reused this long before the volume is looked at again. */
export const freeSpaceCheckIntervalMs = 250;

export interface FreeSpaceSample {
  freeBytes: number;
  totalBytes: number;
}

export interface FreeSpaceOptions {
  minFreeBytes?: number;
  minFreePercent?: number;
  /** How the volume is measured; tests pass their own. Default: statfs of the data directory. */
  sample?: (dir: string) => Promise<FreeSpaceSample>;
}

export async function statfsSample(dir: string): Promise<FreeSpaceSample> {
  const stats = await statfs(dir);
  return { freeBytes: stats.bavail * stats.bsize, totalBytes: stats.blocks * stats.bsize };
}

function mebibytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

export class FreeSpaceGuard {
  private readonly minFreeBytes: number;
  private readonly minFreePercent: number;
  private readonly sample: (dir: string) => Promise<FreeSpaceSample>;
  private checkedAtMs = Number.NEGATIVE_INFINITY;
  private refusal: NeedleError | undefined;
  private checking: Promise<void> | undefined;

  constructor(
    private readonly dir: string,
    options: FreeSpaceOptions = {},
    private readonly now: () => number = () => performance.now(),
  ) {
    this.minFreeBytes = options.minFreeBytes ?? freeSpaceMinBytesDefault;
    this.minFreePercent = options.minFreePercent ?? freeSpaceMinPercentDefault;
    this.sample = options.sample ?? statfsSample;
  }

  /** Throws STORAGE_FULL (naming what is below what, never a path) when writes must wait. */
  async ensureWritable(): Promise<void> {
    if (this.now() - this.checkedAtMs >= freeSpaceCheckIntervalMs) {
      this.checking ??= this.measure().finally(() => {
        this.checking = undefined;
      });
      await this.checking;
    }
    if (this.refusal !== undefined) throw this.refusal;
  }

  private async measure(): Promise<void> {
    let sample: FreeSpaceSample;
    try {
      sample = await this.sample(this.dir);
    } catch {
      // The volume cannot even be measured: let the write try; its own I/O reports the truth.
      this.refusal = undefined;
      this.checkedAtMs = this.now();
      return;
    }
    const threshold = Math.max(this.minFreeBytes, (sample.totalBytes * this.minFreePercent) / 100);
    this.refusal =
      sample.freeBytes >= threshold
        ? undefined
        : new NeedleError(
            "STORAGE_FULL",
            `the data volume has ${mebibytes(sample.freeBytes)} free, below the ${mebibytes(threshold)} kept for flushes and recovery; writes are refused until space is freed (reads and deletes go on)`,
            {
              limit: `${threshold} bytes free`,
              received: `${sample.freeBytes} bytes free`,
              retryAfterSeconds: storageRetryAfterSeconds.full,
            },
          );
    this.checkedAtMs = this.now();
  }
}
