// Runs fn now and then every ms while the tab is visible, one call at a
// time; the returned stop() ends it and aborts a call in flight.
export function poll(ms: number, fn: (signal: AbortSignal) => Promise<void>): () => void {
  const ctl = new AbortController();
  let timer: number | undefined;
  const tick = async () => {
    timer = undefined;
    if (ctl.signal.aborted) return;
    if (document.visibilityState === "visible") await fn(ctl.signal).catch(() => undefined);
    if (!ctl.signal.aborted) timer = window.setTimeout(() => void tick(), ms);
  };
  const onVisible = () => {
    if (document.visibilityState === "visible" && timer !== undefined) {
      window.clearTimeout(timer);
      void tick();
    }
  };
  document.addEventListener("visibilitychange", onVisible);
  void tick();
  return () => {
    ctl.abort();
    if (timer !== undefined) window.clearTimeout(timer);
    document.removeEventListener("visibilitychange", onVisible);
  };
}
