// Following a busy feed without re-rendering a big table for every event: a unit feed with
// 1,311 units reporting positions every few seconds delivers hundreds of events a second. The
// first change renders at once; changes within the next `ms` are rendered together after it,
// unless one of them is urgent (a status change, not a position): that renders at once too.
import { useEffect, useState } from "preact/hooks";
import type { LiveCollection, LiveEvent } from "../live";

/**
 * Whether the feed's snapshot is in (a resumed feed counts). The first time it is on this page,
 * `dispatch:<screen>-ready` is marked, for measuring how long the screen took to fill.
 */
export function useSnapshotIn<T, E extends LiveEvent>(feed: LiveCollection<T, E>, screen: string): boolean {
  const snapshotIn = feed.state === "live" || feed.sequence !== 0n;
  useEffect(() => {
    if (!readyMarked.has(screen) && snapshotIn) {
      readyMarked.add(screen);
      performance.mark(`dispatch:${screen}-ready`);
    }
  }, [snapshotIn]);
  return snapshotIn;
}

const readyMarked = new Set<string>();

export function useThrottledLive<T, E extends LiveEvent>(feed: LiveCollection<T, E> | null, ms = 250): number {
  const [version, setVersion] = useState(feed?.changeCount ?? 0);
  useEffect(() => {
    if (feed === null) return;
    let timer: ReturnType<typeof setTimeout> | null = null;
    let last = 0;
    let urgentSeen = feed.urgentCount;
    const flush = () => {
      if (timer !== null) clearTimeout(timer);
      timer = null;
      last = performance.now();
      urgentSeen = feed.urgentCount;
      setVersion(feed.changeCount);
    };
    setVersion(feed.changeCount);
    const off = feed.subscribe(() => {
      if (feed.urgentCount !== urgentSeen) {
        flush();
        return;
      }
      if (timer !== null) return;
      const wait = last + ms - performance.now();
      if (wait <= 0) flush();
      else timer = setTimeout(flush, wait);
    });
    return () => {
      off();
      if (timer !== null) clearTimeout(timer);
    };
  }, [feed, ms]);
  return version;
}
