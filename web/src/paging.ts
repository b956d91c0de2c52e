// A list that grows a page at a time (Load more), for the pages that list one resource.
import { useCallback, useEffect, useState } from 'react';

/** Rows per page: the list grows a page at a time (Load more). */
export const PAGE_SIZE = 50;

export interface Page<T> {
  items: T[];
  nextPageToken: string;
}

/**
 * The rows loaded so far of `fetchPage` (memoise it: a new function starts the list over), the
 * next page's token ('' when there is none), and whether the first page has been answered.
 */
export function usePagedList<T>(fetchPage: (pageToken: string) => Promise<Page<T>>) {
  const [items, setItems] = useState<T[]>([]);
  const [nextPage, setNextPage] = useState('');
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState<unknown>();
  const load = useCallback(
    async (pageToken: string) => {
      try {
        const page = await fetchPage(pageToken);
        setItems((shown) => (pageToken ? [...shown, ...page.items] : page.items));
        setNextPage(page.nextPageToken);
        setError(undefined);
      } catch (err) {
        setError(err);
      } finally {
        setLoaded(true);
      }
    },
    [fetchPage],
  );
  useEffect(() => void load(''), [load]);
  return { items, nextPage, loaded, error, loadMore: () => void load(nextPage) };
}
