import type { SecretMetadata } from './store.js';

export interface ListPage {
  rows: SecretMetadata[];
  /** Position after the last row when more rows may follow. */
  next?: { name: string; uid: string };
}

/** Rows kept in all cached pages together, at most (pages are evicted oldest-used first). */
export const LIST_CACHE_MAX_ROWS = 20_000;

/**
 * Pages of secret listings, each filed under the org's audit sequence number when it was
 * read. Every change to an org's secrets appends to its audit chain in the same transaction
 * ("no audit, no change"), so a page filed under the org's current sequence number is still
 * exact, on every replica: a page is reused only while the sequence number has not moved.
 * The reader must take the sequence number before the rows (a page is then never older
 * than the number it is filed under).
 */
export class ListPageCache {
  private readonly pages = new Map<string, { seq: number; page: ListPage }>();
  private rows = 0;

  constructor(private readonly maxRows = LIST_CACHE_MAX_ROWS) {}

  get(key: string, seq: number): ListPage | undefined {
    const entry = this.pages.get(key);
    if (!entry) return undefined;
    this.drop(key);
    if (entry.seq !== seq) return undefined;
    this.put(key, entry);
    return entry.page;
  }

  set(key: string, seq: number, page: ListPage): void {
    this.drop(key);
    if (page.rows.length > this.maxRows) return;
    this.put(key, { seq, page });
    for (const oldest of this.pages.keys()) {
      if (this.rows <= this.maxRows) break;
      this.drop(oldest);
    }
  }

  get size(): { pages: number; rows: number } {
    return { pages: this.pages.size, rows: this.rows };
  }

  private put(key: string, entry: { seq: number; page: ListPage }): void {
    this.pages.set(key, entry);
    this.rows += entry.page.rows.length;
  }

  private drop(key: string): void {
    const entry = this.pages.get(key);
    if (!entry) return;
    this.pages.delete(key);
    this.rows -= entry.page.rows.length;
  }
}
