// A screen reached by hand by a role its feed is not for: the feed is asked for anyway (once,
// outside the shared feeds) and the server's own refusal is shown as it came.
import type { FunctionComponent } from "preact";
import { useEffect, useState } from "preact/hooks";
import { refusal, type Refusal } from "../api";
import type { Watch } from "../feeds";
import { useLang } from "../i18n";
import type { LiveEvent } from "../live";
import { may } from "../session";
import { RefusalView } from "../widgets";

/** A screen over the feed of `watch`: `Screen` when the role may follow it, else its refusal. */
export function feedScreen<T, E extends LiveEvent>(
  watch: Watch<T, E>,
  title: { es: string; en: string },
  Screen: FunctionComponent,
): FunctionComponent {
  return function FeedScreen() {
    const lang = useLang();
    if (may(watch.method)) return <Screen />;
    return <FeedRefusal title={title[lang]} open={(signal) => watch.open(0n, signal)} />;
  };
}

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
