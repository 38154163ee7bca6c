/** A minimal Server-Sent Events reader over fetch, for tests: events and comments as they arrive. */
export interface SseEvent {
  id?: string;
  data?: string;
  comment?: string;
  retry?: number;
}

export async function openSse(url: string, headers: Record<string, string> = {}, signal?: AbortSignal) {
  const res = await fetch(url, { headers: { accept: "text/event-stream", ...headers }, signal });
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  async function* blocks(): AsyncGenerator<SseEvent> {
    for (;;) {
      let cut: number;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        yield parseBlock(block);
      }
      const { done, value } = await reader.read();
      if (done) return;
      buffer += value;
    }
  }
  return { res, events: blocks() };
}

function parseBlock(block: string): SseEvent {
  const event: SseEvent = {};
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) event.comment = line.slice(1).trim();
    else if (line.startsWith("id: ")) event.id = line.slice(4);
    else if (line.startsWith("data: "))
      event.data = (event.data === undefined ? "" : event.data + "\n") + line.slice(6);
    else if (line.startsWith("retry: ")) event.retry = Number(line.slice(7));
  }
  return event;
}

/** The next data event (comments and retry skipped), bounded. */
export async function nextData(events: AsyncGenerator<SseEvent>, timeoutMs = 10_000) {
  const deadline = AbortSignal.timeout(timeoutMs);
  for (;;) {
    const next = await Promise.race([
      events.next(),
      new Promise<never>((_, reject) =>
        deadline.addEventListener("abort", () => reject(new Error(`no SSE event within ${timeoutMs} ms`))),
      ),
    ]);
    if (next.done) return undefined;
    if (next.value.data !== undefined) return { id: next.value.id!, status: JSON.parse(next.value.data) };
  }
}
