/**
 * Read epochs (storage/compaction/DESIGN.md, invariant 4): a compaction swaps its sources out of
 * the namespace's slab list, but a read that started before the swap may still send them
 * messages. Their files are deleted only after every such read has ended.
 *
 * Each read is counted in the epoch it began in; `afterCurrentReads` closes the current epoch
 * and runs its work once no read of that epoch or an earlier one is left. Reads that begin
 * afterwards belong to the next epoch and never delay it.
 */
export class ReadEpochs {
  private epoch = 0;
  /** Reads in progress, by the epoch they began in. */
  private readonly active = new Map<number, number>();
  /** Work waiting for the reads of epochs up to `epoch` to end, oldest first. */
  private waiting: { epoch: number; work: () => void }[] = [];

  /** Counts a read; call the returned function (once; later calls do nothing) when it ends. */
  begin(): () => void {
    const epoch = this.epoch;
    this.active.set(epoch, (this.active.get(epoch) ?? 0) + 1);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      const left = this.active.get(epoch)! - 1;
      if (left === 0) this.active.delete(epoch);
      else this.active.set(epoch, left);
      this.release();
    };
  }

  /** Runs `work` once every read begun so far has ended (now, if none is in progress). */
  afterCurrentReads(work: () => void): void {
    this.waiting.push({ epoch: this.epoch, work });
    this.epoch++;
    this.release();
  }

  /** Reads in progress (for tests and stats). */
  get inProgress(): number {
    let count = 0;
    for (const reads of this.active.values()) count += reads;
    return count;
  }

  private release(): void {
    let oldestActive = Number.POSITIVE_INFINITY;
    for (const epoch of this.active.keys()) oldestActive = Math.min(oldestActive, epoch);
    const ready = this.waiting.filter((entry) => entry.epoch < oldestActive);
    if (ready.length === 0) return;
    this.waiting = this.waiting.filter((entry) => entry.epoch >= oldestActive);
    for (const entry of ready) entry.work();
  }
}
