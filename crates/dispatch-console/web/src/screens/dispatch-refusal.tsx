// A screen reached by hand by a role its feed is not for: the feed is asked for anyway (once,
// outside the shared feeds) and the server's own refusal is shown as it came.
import { useEffect, useState } from "preact/hooks";
import { refusal, type Refusal } from "../api";
import { RefusalView } from "../widgets";

export function FeedRefusal({ title, open }: { title: string; open: (signal: AbortSignal) => AsyncIterable<unknown> }) {
  const [refused, setRefused] = useState<Refusal | null>(null);
  useEffect(() => {
    const abort = new AbortController();
    void (async () => {
      try {
        for await (const _ of open(abort.signal)) break;
      } catch (error) {
        if (!abort.signal.aborted) setRefused(refusal(error));
      }
    })();
    return () => abort.abort();
  }, []);
  return (
    <section class="dsp-screen" data-testid="screen-refused">
      <h1>{title}</h1>
      {refused !== null && <RefusalView refusal={refused} />}
    </section>
  );
}
