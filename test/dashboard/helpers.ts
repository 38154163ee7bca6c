/**
 * What the dashboard's browser tests share: a jetq with API keys and a
 * `ticker` queue whose jobs log and progress until cancelled, a Node client
 * for arranging jobs, and signing in on a page.
 */
import { fromJson, type JsonValue } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import type { Page } from "playwright-core";
import { JobState, QueueService } from "../../gen/jetq/v1/queue_pb.js";
import type { Handler } from "../../src/worker/index.js";

export const ADMIN_KEY = "dash-admin-key";
export const READER_KEY = "dash-reader-key";
export const KEYS = [
  { key: ADMIN_KEY, name: "ops", tenant: "ops", role: "admin" as const },
  { key: READER_KEY, name: "viewer", tenant: "ops", role: "reader" as const },
];

/** Logs "tick n" and moves its progress every 100 ms for up to 60 s; stops when cancelled. */
export const ticker: Handler = async (_input, ctx) => {
  for (let n = 1; n <= 600; n++) {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, 100);
      ctx.signal.addEventListener("abort", () => (clearTimeout(timer), reject(ctx.signal.reason)), { once: true });
    });
    ctx.log("info", `tick ${n}`);
    ctx.progress(n / 600);
  }
  return { ticks: 600 };
};

export function nodeClient(baseUrl: string): Client<typeof QueueService> {
  const withKey: Interceptor = (next) => (req) => {
    req.header.set("authorization", `Bearer ${ADMIN_KEY}`);
    return next(req);
  };
  return createClient(QueueService, createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors: [withKey] }));
}

/** Submits a job with a JSON input, as the admin. */
export async function submit(client: Client<typeof QueueService>, queue: string, input: JsonValue): Promise<string> {
  return (await client.submit({ queue, input: fromJson(ValueSchema, input) })).id;
}

/** Waits (bounded) until the job reaches state. */
export async function waitForState(client: Client<typeof QueueService>, id: string, state: JobState): Promise<void> {
  for await (const job of client.streamStatus({ id }, { timeoutMs: 20_000 })) {
    if (job.state === state) return;
  }
  throw new Error(`job ${id} ended without reaching ${JobState[state]}`);
}

/** Opens the dashboard on a fresh tab's state and answers its key prompt. */
export async function signIn(page: Page, baseUrl: string, key: string): Promise<void> {
  await page.goto(`${baseUrl}/ui/`);
  await page.locator("#api-key").fill(key);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("heading", { name: "Queues" }).waitFor({ timeout: 15_000 });
}

/** True when the document is wider than the window (a horizontal scroll bar). */
export function scrollsSideways(page: Page): Promise<boolean> {
  return page.evaluate(() => {
    const doc = (
      globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number } } }
    ).document.documentElement;
    return doc.scrollWidth > doc.clientWidth;
  });
}
