/**
 * Reads a nats-server's monitoring endpoints (/jsz, /connz), so the NATS
 * engine's tests check the server's own view of streams, consumers and
 * subscriptions rather than the engine's word.
 */
export interface StreamDetail {
  name: string;
  config: {
    subjects?: string[];
    retention: string;
    storage: string;
    max_age: number;
    max_msgs_per_subject: number;
    allow_direct?: boolean;
  };
  state: { messages: number; first_seq: number; last_seq: number };
  consumer_detail?: Array<{
    name: string;
    config: {
      durable_name?: string;
      ack_policy: string;
      ack_wait: number;
      max_deliver: number;
      max_ack_pending: number;
    };
    num_pending: number;
    num_ack_pending: number;
  }>;
}

export async function streams(monitorUrl: string): Promise<StreamDetail[]> {
  const res = await fetch(`${monitorUrl}/jsz?accounts=true&streams=true&consumers=true&config=true`);
  if (!res.ok) throw new Error(`GET /jsz: HTTP ${res.status}`);
  const body = (await res.json()) as { account_details?: Array<{ stream_detail?: StreamDetail[] }> };
  return (body.account_details ?? []).flatMap((a) => a.stream_detail ?? []);
}

export async function stream(monitorUrl: string, name: string): Promise<StreamDetail> {
  const found = (await streams(monitorUrl)).find((s) => s.name === name);
  if (!found) throw new Error(`stream ${name} not on the server`);
  return found;
}

export interface Connz {
  cid: number;
  name?: string;
  /** Messages the server received from this connection. */
  in_msgs: number;
  subscriptions_list?: string[];
}

export async function connections(monitorUrl: string): Promise<Connz[]> {
  const res = await fetch(`${monitorUrl}/connz?subs=1&limit=10000`);
  if (!res.ok) throw new Error(`GET /connz: HTTP ${res.status}`);
  return ((await res.json()) as { connections?: Connz[] }).connections ?? [];
}

/** Polls until check passes or timeoutMs elapse (then rethrows its last failure). */
export async function eventually<T>(fn: () => Promise<T>, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}
