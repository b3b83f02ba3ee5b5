/**
 * The router's merge: best k of several best-first candidate lists. Pure, so it is tested
 * directly; the namespace (strong reads) and, later, the eventual-mode router both use it.
 * Ties break by id so the answer does not depend on the order sources answered in.
 */
/** Anything with an id and a score: candidates before their records are read, or matches. */
export interface Scored {
  id: string;
  score: number;
}

export function mergeTopK<T extends Scored>(lists: T[][], k: number, ascending: boolean): T[] {
  const all = lists.flat();
  all.sort((a, b) => {
    if (a.score !== b.score) return ascending ? a.score - b.score : b.score - a.score;
    return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  });
  return all.length > k ? all.slice(0, k) : all;
}
