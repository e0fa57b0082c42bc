// Live collections: a Watch stream's snapshot, then its events, kept as a map by resource name.
// A dropped stream is resumed from the last sequence seen (after_sequence), so nothing is
// missed and nothing reloads; a ResyncRequired (too slow, or too far behind) starts over from a
// fresh snapshot by itself; an UNAUTHENTICATED or PERMISSION_DENIED end (credential revoked,
// role changed) stops and says so. The state is visible, never silent.
import { useEffect, useState } from "preact/hooks";
import { Code, ConnectError } from "./api";
import type { Heartbeat, ResyncRequired, SnapshotComplete } from "./gen/dispatch/v1/event_pb";

export type LinkState = "connecting" | "live" | "reconnecting" | "resyncing" | "refused" | "stopped";

/** One message of any Watch stream: they all share this shape. */
export type WatchMessage<T, E> = {
  item:
    | { case: "snapshot"; value: T }
    | { case: "snapshotComplete"; value: SnapshotComplete }
    | { case: "event"; value: E }
    | { case: "resyncRequired"; value: ResyncRequired }
    | { case: "heartbeat"; value: Heartbeat }
    | { case: undefined; value?: undefined };
};

export interface LiveEvent {
  sequence: bigint;
  leftFilter: boolean;
}

export interface LiveOptions<T, E extends LiveEvent> {
  /** Opens the stream from `afterSequence` (0: snapshot then live). */
  open: (afterSequence: bigint, signal: AbortSignal) => AsyncIterable<WatchMessage<T, E>>;
  /** The resource name of an item. */
  key: (item: T) => string;
  /** The item an event carries, as it is after the event. */
  itemOf: (event: E) => T | undefined;
  /** Called for every event after it was applied (e.g. to flash a row). */
  onEvent?: (event: E) => void;
  /**
   * Whether an event must be shown at once even by a view that batches a busy feed (a status
   * change must; the flood of position reports need not). Unset: every event is urgent.
   */
  urgent?: (event: E) => boolean;
}

/** Longest silence before a stream is taken for dead (the server's heartbeat is 15 s). */
const SILENCE_MS = 40_000;

export class LiveCollection<T, E extends LiveEvent> {
  items = new Map<string, T>();
  state: LinkState = "connecting";
  /** Why the stream is not live, when it is not. */
  reason = "";
  /** The resume point: every event up to it is reflected in `items`. */
  sequence = 0n;
  /** Times the stream was resumed, and started over from a snapshot. */
  resumes = 0;
  resyncs = 0;
  /** Date.now() when the newest event was applied (for measurements). */
  lastEventAt = 0;
  /** Urgent events applied so far (see LiveOptions.urgent). */
  urgentCount = 0;
  private version = 0;
  private listeners = new Set<() => void>();
  private abort: AbortController | null = null;
  private notifyQueued = false;
  private running = false;

  constructor(private readonly options: LiveOptions<T, E>) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    void this.run();
  }

  stop(): void {
    this.running = false;
    this.abort?.abort();
    this.setState("stopped", "");
  }

  /** Drops the current connection and resumes (tests use it to show resume works). */
  reconnect(): void {
    this.abort?.abort();
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  get changeCount(): number {
    return this.version;
  }

  private notify(): void {
    this.version++;
    if (this.notifyQueued) return;
    this.notifyQueued = true;
    queueMicrotask(() => {
      this.notifyQueued = false;
      for (const listener of this.listeners) listener();
    });
  }

  private setState(state: LinkState, reason: string): void {
    if (this.state === state && this.reason === reason) return;
    this.state = state;
    this.reason = reason;
    this.notify();
  }

  private async run(): Promise<void> {
    let backoff = 250;
    while (this.running) {
      const abort = new AbortController();
      this.abort = abort;
      let silence = setTimeout(() => abort.abort(), SILENCE_MS);
      let snapshot: Map<string, T> | null = this.sequence === 0n ? new Map() : null;
      try {
        for await (const message of this.options.open(this.sequence, abort.signal)) {
          clearTimeout(silence);
          silence = setTimeout(() => abort.abort(), SILENCE_MS);
          const item = message.item;
          switch (item.case) {
            case "snapshot":
              snapshot?.set(this.options.key(item.value), item.value);
              break;
            case "snapshotComplete":
              if (snapshot !== null) this.items = snapshot;
              snapshot = null;
              this.sequence = item.value.sequence;
              backoff = 250;
              this.setState("live", "");
              this.notify();
              break;
            case "event": {
              const value = this.options.itemOf(item.value);
              if (value !== undefined) {
                const key = this.options.key(value);
                if (item.value.leftFilter) this.items.delete(key);
                else this.items.set(key, value);
              }
              this.sequence = item.value.sequence;
              this.lastEventAt = Date.now();
              if (this.options.urgent?.(item.value) ?? true) this.urgentCount++;
              backoff = 250;
              if (this.state !== "live") this.setState("live", "");
              this.options.onEvent?.(item.value);
              this.notify();
              break;
            }
            case "heartbeat":
              this.sequence = item.value.sequence;
              if (this.state !== "live") this.setState("live", "");
              break;
            case "resyncRequired":
              this.sequence = 0n;
              this.resyncs++;
              this.setState("resyncing", item.value.description);
              abort.abort();
              break;
          }
          if (abort.signal.aborted) break;
        }
        if (this.running && this.state !== "resyncing") this.setState("reconnecting", "");
      } catch (error) {
        const connect = ConnectError.from(error);
        if (connect.code === Code.Unauthenticated || connect.code === Code.PermissionDenied) {
          this.running = false;
          this.setState("refused", connect.rawMessage);
          break;
        }
        if (this.running && this.state !== "resyncing") {
          this.setState("reconnecting", connect.rawMessage);
        }
      } finally {
        clearTimeout(silence);
      }
      if (!this.running) break;
      if (this.state === "resyncing") continue;
      this.resumes++;
      await new Promise((resolve) => setTimeout(resolve, backoff));
      backoff = Math.min(backoff * 2, 5_000);
    }
  }
}

/** Re-renders the calling component whenever the collection changes. */
export function useLive<T, E extends LiveEvent>(collection: LiveCollection<T, E>): LiveCollection<T, E> {
  const [, setVersion] = useState(0);
  useEffect(() => {
    const off = collection.subscribe(() => setVersion(collection.changeCount));
    // A change announced between this component's render and now found no listener yet.
    setVersion(collection.changeCount);
    return off;
  }, [collection]);
  return collection;
}
