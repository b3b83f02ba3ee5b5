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

/**
 * The shared top-k bound: the k-th best score among the lists, or undefined while there are
 * fewer than k candidates. A candidate strictly worse than it can never enter the best k
 * (one equal to it still can, by id), so later sources drop such candidates unread.
 */
export function kthScore(lists: Scored[][], k: number, ascending: boolean): number | undefined {
  const best = mergeTopK(lists, k, ascending);
  return best.length < k ? undefined : best[k - 1]!.score;
}

/** The tighter of two bounds (either may be absent). */
export function tighterBound(a: number | undefined, b: number | undefined, ascending: boolean) {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return ascending ? Math.min(a, b) : Math.max(a, b);
}

/** Whether a score can still enter the best k under `bound`. */
export function withinBound(score: number, bound: number | undefined, ascending: boolean): boolean {
  return bound === undefined || (ascending ? score <= bound : score >= bound);
}
