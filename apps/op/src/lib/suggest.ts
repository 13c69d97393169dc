/** "Did you mean" for unknown commands and flags. No imports: loaded on the error path only. */

/** Levenshtein distance (insert, delete, substitute), two rows. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++)
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/**
 * The candidates closest to `word`: within a third of its length (at least 2 edits), or
 * ending in it (`op warm` -> `revisions warm`); only those at the smallest distance, at most three.
 */
export function closest(word: string, candidates: readonly string[]): string[] {
  const limit = Math.max(2, Math.floor(word.length / 3));
  const lastWord = (s: string) => s.split(" ").at(-1)!;
  const near = candidates
    .map((c) => ({ c, d: lastWord(c) === word && !word.includes(" ") ? 0 : editDistance(word, c) }))
    .filter(({ d }) => d <= limit);
  // Only the closest: "revisions wram" suggests warm, not also drain and list.
  const best = Math.min(...near.map(({ d }) => d));
  return near
    .filter(({ d }) => d === best)
    .sort((x, y) => x.c.localeCompare(y.c))
    .slice(0, 3)
    .map(({ c }) => c);
}

/** `a`, `a or b`, `a, b or c`, each quoted. */
export function alternatives(words: readonly string[]): string {
  const q = words.map((w) => `"${w}"`);
  return q.length <= 1 ? (q[0] ?? "") : `${q.slice(0, -1).join(", ")} or ${q.at(-1)}`;
}
