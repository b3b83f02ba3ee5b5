/**
 * A durable copy of a directory tree whose immutable files are shared, not copied: the
 * backups of an index (actors/backups.ts) and their restores.
 *
 * Files for which `immutable(relativePath)` holds (slabs: written once, never changed, only
 * ever deleted) are hard links to the same inode, so a later delete of the source's name
 * (a compaction retiring the slab) leaves the copy's; on another volume (EXDEV) or a file
 * system without links they are copied. Every other file (a request log or journal still
 * appended to) is copied, so later appends to the source never reach the copy.
 *
 * Durability: each copied file is fsynced, then each directory made (its entries), so once
 * `snapshotTree` resolves the whole copy survives a power cut.
 */
import { join } from "node:path";
import { copyFile, link, mkdir, open, readdirEntries, stat, treeBytes } from "./files.ts";
import { fsyncDirectory, ioError, osErrorCode } from "./fsync.ts";

export interface SnapshotStats {
  files: number;
  /** Bytes of every file in the copy (shared ones included: what the copy holds). */
  bytes: number;
  /** Of them, files shared with the source by a hard link. */
  linked: number;
}

/** Copies the tree at `from` into `to` (which must not exist yet); see the module comment. */
export async function snapshotTree(
  from: string,
  to: string,
  immutable: (relativePath: string) => boolean,
  progress?: SnapshotProgress,
): Promise<SnapshotStats> {
  const stats: SnapshotStats = { files: 0, bytes: 0, linked: 0 };
  const total = progress === undefined ? 0 : await treeBytes(from);
  await copyDirectory(from, to, "", immutable, stats, (bytes) => progress?.(bytes, total));
  return stats;
}

/** Told after each file: bytes done so far, of the tree's total. */
export type SnapshotProgress = (bytesDone: number, bytesTotal: number) => void;

async function copyDirectory(
  from: string,
  to: string,
  relative: string,
  immutable: (relativePath: string) => boolean,
  stats: SnapshotStats,
  report: (bytesDone: number) => void,
): Promise<void> {
  await mkdir(to).catch((error: unknown) => {
    throw ioError(to, "mkdir", error);
  });
  for (const entry of await readdirEntries(from)) {
    // Temporary files of writes in progress (`.name.random.tmp`) are not part of the state.
    if (entry.name.startsWith(".")) continue;
    const source = join(from, entry.name);
    const target = join(to, entry.name);
    const path = relative === "" ? entry.name : `${relative}/${entry.name}`;
    if (entry.isDirectory()) {
      await copyDirectory(source, target, path, immutable, stats, report);
      continue;
    }
    if (!entry.isFile()) continue;
    stats.files++;
    stats.bytes += (await stat(source)).size;
    if (immutable(path) && (await linked(source, target))) {
      stats.linked++;
      report(stats.bytes);
      continue;
    }
    await copyFile(source, target).catch((error: unknown) => {
      throw ioError(target, "copy", error);
    });
    const handle = await open(target, "r+");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    report(stats.bytes);
  }
  await fsyncDirectory(to);
}

/** True once `target` names the same file as `source`; false where links cannot be made. */
async function linked(source: string, target: string): Promise<boolean> {
  try {
    await link(source, target);
    return true;
  } catch (error) {
    const code = osErrorCode(error);
    if (code === "EXDEV" || code === "EPERM" || code === "ENOTSUP" || code === "EOPNOTSUPP") return false;
    throw ioError(target, "link", error);
  }
}
