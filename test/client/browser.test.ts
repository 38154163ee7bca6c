/**
 * @jetq/client in a real browser (Debian's chromium): the package's compiled
 * output, bundled for the browser by esbuild as an app's bundler would,
 * loaded by a page of another origin, talks to jetq over the Connect
 * protocol with fetch (connect-web) and CORS: subscribe() gets the output,
 * a failing job rejects with JobError, submit/cancel/queueCount work.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, expect, test } from "vitest";
import { startTestServer, type TestServer } from "../../src/testing.js";
import { launchChromium, type Browser } from "../helpers/chromium.js";

const clientEntry = fileURLToPath(new URL("../../packages/client/dist/index.js", import.meta.url));

let pages: Server | undefined;
let jetq: TestServer | undefined;
let browser: Browser | undefined;
let page: Page;

/** A page origin of its own serving the bundled client, as an app would. */
async function servePage(bundle: string): Promise<string> {
  const html = `<!doctype html><meta charset="utf-8"><title>jetq client</title>
<script type="module">import * as jetq from "/client.js"; window.jetq = jetq; document.title = "ready";</script>`;
  pages = createServer((req, res) => {
    const js = req.url === "/client.js";
    res.writeHead(js || req.url === "/" ? 200 : 404, {
      "content-type": js ? "text/javascript; charset=utf-8" : "text/html; charset=utf-8",
    });
    res.end(js ? bundle : html);
  });
  await new Promise<void>((resolve) => pages!.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(pages.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  const bundled = await build({
    entryPoints: [clientEntry],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    write: false,
  });
  const origin = await servePage(bundled.outputFiles[0]!.text);
  jetq = await startTestServer({ corsOrigins: [origin] });
  browser = await launchChromium();
  page = await browser.context.newPage();
  await page.goto(`${origin}/`);
  await page.waitForFunction(() => (globalThis as unknown as PageGlobals).document.title === "ready", undefined, {
    timeout: 20_000,
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await jetq?.close();
  await new Promise((resolve) => (pages ? pages.close(resolve) : resolve(undefined)));
});

// What the page's window holds: the module's exports (the tests type-check without the DOM library).
type Jetq = typeof import("../../packages/client/src/index.js");
interface PageGlobals {
  document: { title: string };
}

test("subscribe() in the browser returns the job's output and reports its states", async () => {
  const result = await page.evaluate(async (baseUrl) => {
    const { createJetqClient } = (globalThis as unknown as { jetq: Jetq }).jetq;
    const client = createJetqClient({ baseUrl });
    const states: string[] = [];
    let enqueued = "";
    const r = await client.subscribe(
      "echo",
      { hello: "browser", sleep_ms: 200, progress: 2 },
      { onEnqueue: (id) => (enqueued = id), onUpdate: (job) => states.push(job.state), timeoutMs: 15_000 },
    );
    return { id: r.id, enqueued, output: r.output, state: r.job.state, states };
  }, jetq!.url);
  expect(result.output).toEqual({ hello: "browser", sleep_ms: 200, progress: 2 });
  expect(result.state).toBe("COMPLETED");
  expect(result.enqueued).toBe(result.id);
  expect(result.states).toContain("RUNNING");
});

test("a failing job rejects with JobError carrying the handler's message", async () => {
  const failure = await page.evaluate(async (baseUrl) => {
    const { createJetqClient, JobError } = (globalThis as unknown as { jetq: Jetq }).jetq;
    const client = createJetqClient({ baseUrl });
    try {
      await client.subscribe("echo", { fail: "no luck in the browser" }, { timeoutMs: 15_000 });
      return { rejected: false, isJobError: false, message: "" };
    } catch (err) {
      return { rejected: true, isJobError: err instanceof JobError, message: String((err as Error).message) };
    }
  }, jetq!.url);
  expect(failure).toMatchObject({ rejected: true, isJobError: true });
  expect(failure.message).toContain("no luck in the browser");
});

test("submit, cancel and queueCount from the browser", async () => {
  const out = await page.evaluate(async (baseUrl) => {
    const { createJetqClient } = (globalThis as unknown as { jetq: Jetq }).jetq;
    const client = createJetqClient({ baseUrl });
    const handle = await client.submit("echo", { sleep_ms: 10_000 });
    const counted = await client.queueCount("echo");
    const cancelled = await handle.cancel();
    const status = await handle.status();
    return { counted, removed: cancelled.removed, state: status.state };
  }, jetq!.url);
  expect(out.counted.queue).toBe("echo");
  expect(out.counted.inQueue + out.counted.running).toBeGreaterThanOrEqual(1);
  expect(out.removed).toBe(true);
  expect(out.state).toBe("CANCELLED");
});
