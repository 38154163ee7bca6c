/**
 * The dashboard in a real browser (Debian's chromium driven by
 * playwright-core), against one jetq with API keys for the whole file:
 * the key prompt, live overview counts, a running job's progress and logs
 * as they arrive, its input, Cancel and Retry from the page, a reader key without
 * buttons, and the layout at 375 px. Also writes the README's screenshots
 * (JETQ_UPDATE_SCREENSHOTS=1: into docs/; otherwise a temporary folder).
 */
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Client } from "@connectrpc/connect";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, expect, test } from "vitest";
import { JobState, type QueueService } from "../../gen/jetq/v1/queue_pb.js";
import { echo } from "../../src/handlers/echo.js";
import { startTestServer, type TestServer } from "../../src/testing.js";
import { launchChromium, type Browser } from "../helpers/chromium.js";
import {
  ADMIN_KEY,
  KEYS,
  nodeClient,
  READER_KEY,
  scrollsSideways,
  signIn,
  submit,
  ticker,
  waitForState,
} from "./helpers.js";

let jetq: TestServer;
let browser: Browser;
let client: Client<typeof QueueService>;
let page: Page;
let shots: string;
const cleanup: string[] = [];
const refused: string[] = [];

beforeAll(async () => {
  jetq = await startTestServer({ apiKeys: KEYS, handlers: { ticker, listed: echo, pausable: echo } });
  client = nodeClient(jetq.url);
  browser = await launchChromium();
  page = await browser.context.newPage();
  await page.setViewportSize({ width: 1280, height: 860 });
  await page.emulateMedia({ colorScheme: "light" });
  // The page's Content-Security-Policy must never have to refuse anything it does.
  page.on("console", (m) => {
    if (/Content.Security.Policy|Refused to/i.test(m.text())) refused.push(m.text());
  });
  if (process.env.JETQ_UPDATE_SCREENSHOTS === "1") shots = fileURLToPath(new URL("../../docs/", import.meta.url));
  else cleanup.push((shots = await mkdtemp(join(tmpdir(), "jetq-shots-"))));
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await jetq?.close();
  await Promise.all(cleanup.map((dir) => rm(dir, { recursive: true, force: true })));
});

const row = (queue: string) => page.locator(`tr[data-queue="${queue}"]`);
const count = async (queue: string, column: "waiting" | "running") =>
  Number(await row(queue).locator(`td.${column}`).textContent());

test("asks for the API key (kept out of the URL), then shows the queues", async () => {
  await signIn(page, jetq.url, ADMIN_KEY);
  expect(page.url()).not.toContain(ADMIN_KEY);
  await expect.poll(() => page.getByTestId("role").textContent()).toBe("ops · admin");
  await row("echo").waitFor();
});

test("the overview's counts change as jobs are submitted", async () => {
  await page.goto(`${jetq.url}/ui/#/`);
  await row("echo").locator("td.waiting").waitFor();
  const before = (await count("echo", "waiting")) + (await count("echo", "running"));
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) ids.push(await submit(client, "echo", { sleep_ms: 30_000 }));
  await expect
    .poll(async () => (await count("echo", "waiting")) + (await count("echo", "running")), { timeout: 15_000 })
    .toBe(before + 3);
  for (const id of ids) await client.cancel({ id });
  await expect
    .poll(async () => (await count("echo", "waiting")) + (await count("echo", "running")), { timeout: 15_000 })
    .toBe(before);
});

test("a running job shows its progress and logs live; Cancel on the page makes it CANCELLED", async () => {
  const id = await submit(client, "ticker", {});
  await page.goto(`${jetq.url}/ui/#/jobs/${id}`);
  await expect.poll(() => page.getByTestId("job-state").textContent(), { timeout: 15_000 }).toBe("RUNNING");
  const logs = page.getByTestId("job-logs");
  await logs.getByText("tick 3", { exact: true }).waitFor({ timeout: 15_000 });
  const progressThen = await page.getByTestId("job-progress").textContent();
  // Lines and progress keep arriving on the open page: no reload.
  await logs.getByText("tick 12", { exact: true }).waitFor({ timeout: 15_000 });
  await expect.poll(() => page.getByTestId("job-progress").textContent()).not.toBe(progressThen);
  await page.getByRole("button", { name: "Cancel" }).click();
  await expect.poll(() => page.getByTestId("job-state").textContent(), { timeout: 15_000 }).toBe("CANCELLED");
  expect((await client.getStatus({ id })).state).toBe(JobState.CANCELLED);
  await expect.poll(() => page.getByRole("button", { name: "Cancel" }).count()).toBe(0);
});

test("retrying a failed job from the page completes it", async () => {
  const id = await submit(client, "echo", { fail: "first try fails", fail_attempts: 1 });
  await waitForState(client, id, JobState.FAILED);
  await page.goto(`${jetq.url}/ui/#/jobs/${id}`);
  await expect.poll(() => page.getByTestId("job-state").textContent(), { timeout: 15_000 }).toBe("FAILED");
  await page.getByText("first try fails").first().waitFor();
  await page.getByRole("button", { name: "Retry" }).click();
  await expect.poll(() => page.getByTestId("job-state").textContent(), { timeout: 15_000 }).toBe("COMPLETED");
  expect((await client.getStatus({ id })).state).toBe(JobState.COMPLETED);
});

test("Pause on the overview holds a queue's jobs; Resume lets them run", async () => {
  await page.goto(`${jetq.url}/ui/#/`);
  await row("pausable").getByRole("button", { name: "Pause" }).click();
  await row("pausable").locator(".badge.paused").waitFor({ timeout: 15_000 });
  const id = await submit(client, "pausable", { sleep_ms: 0 });
  await expect.poll(() => count("pausable", "waiting"), { timeout: 15_000 }).toBe(1);
  expect((await client.getStatus({ id })).state).toBe(JobState.QUEUED);
  await row("pausable").getByRole("button", { name: "Resume" }).click();
  await waitForState(client, id, JobState.COMPLETED);
  await expect.poll(() => row("pausable").locator(".badge.paused").count(), { timeout: 15_000 }).toBe(0);
});

test("the job list pages through a queue's jobs of one state, newest first, and opens a job", async () => {
  const ids: string[] = [];
  for (let i = 0; i < 27; i++) ids.push(await submit(client, "listed", { n: i, fail: "listed failure" }));
  await waitForState(client, ids.at(-1)!, JobState.FAILED);
  await page.goto(`${jetq.url}/ui/#/queues/listed?state=failed`);
  const rows = page.locator(".job-list tbody tr");
  await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(25);
  expect(await rows.first().getAttribute("data-job")).toBe(ids.at(-1));
  await page.getByRole("button", { name: "Older" }).click();
  await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(2);
  expect(await rows.last().getAttribute("data-job")).toBe(ids[0]);
  await page.getByRole("button", { name: "Newer" }).click();
  await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(25);
  // The first page follows the queue: a job failing now shows up on top without a reload.
  const newest = await submit(client, "listed", { fail: "one more" });
  await expect.poll(() => rows.first().getAttribute("data-job"), { timeout: 15_000 }).toBe(newest);
  await rows.nth(1).getByRole("link").click();
  await expect.poll(() => page.getByTestId("job-state").textContent(), { timeout: 15_000 }).toBe("FAILED");
  expect(page.url()).toContain(ids.at(-1));
});

test("a reader key sees jobs and queues but no Cancel, Retry, Pause or Submit", async () => {
  const running = await submit(client, "ticker", {});
  const failed = await submit(client, "echo", { fail: "for the reader" });
  await waitForState(client, failed, JobState.FAILED);
  const reader = await browser.context.newPage();
  try {
    await signIn(reader, jetq.url, READER_KEY);
    await expect.poll(() => reader.getByTestId("role").textContent()).toBe("viewer · reader");
    await reader.locator('tr[data-queue="echo"] td.waiting').waitFor();
    expect(await reader.getByRole("button", { name: /Pause|Resume/ }).count()).toBe(0);
    await reader.goto(`${jetq.url}/ui/#/jobs/${running}`);
    await expect.poll(() => reader.getByTestId("job-state").textContent(), { timeout: 15_000 }).toBe("RUNNING");
    await reader.getByTestId("job-logs").getByText("tick 2", { exact: true }).waitFor({ timeout: 15_000 });
    expect(await reader.getByRole("button", { name: "Cancel" }).count()).toBe(0);
    await reader.goto(`${jetq.url}/ui/#/jobs/${failed}`);
    await expect.poll(() => reader.getByTestId("job-state").textContent(), { timeout: 15_000 }).toBe("FAILED");
    expect(await reader.getByRole("button", { name: "Retry" }).count()).toBe(0);
    await reader.goto(`${jetq.url}/ui/#/submit`);
    await reader.getByText("This API key may not submit jobs.").waitFor();
  } finally {
    await reader.close();
    await client.cancel({ id: running });
  }
});

test("at 375 px wide nothing scrolls sideways: overview, job list, job page, submit form", async () => {
  const id = await submit(client, "ticker", {});
  const narrow = await browser.context.newPage();
  try {
    await narrow.setViewportSize({ width: 375, height: 740 });
    await signIn(narrow, jetq.url, ADMIN_KEY);
    await narrow.locator('tr[data-queue="echo"] td.waiting').waitFor();
    expect(await scrollsSideways(narrow)).toBe(false);
    await narrow.goto(`${jetq.url}/ui/#/queues/echo?state=failed`);
    await narrow.locator(".job-list > *").first().waitFor();
    expect(await scrollsSideways(narrow)).toBe(false);
    await narrow.goto(`${jetq.url}/ui/#/jobs/${id}`);
    await narrow.getByTestId("job-logs").getByText("tick 2", { exact: true }).waitFor({ timeout: 15_000 });
    expect(await scrollsSideways(narrow)).toBe(false);
    await narrow.goto(`${jetq.url}/ui/#/submit`);
    await narrow.locator("#s-input").waitFor();
    expect(await scrollsSideways(narrow)).toBe(false);
  } finally {
    await narrow.close();
    await client.cancel({ id });
  }
});

test("submitting from the form opens the new job, which completes with its output", async () => {
  await page.goto(`${jetq.url}/ui/#/submit?queue=echo`);
  await page.locator("#s-input").fill(JSON.stringify({ from: "the form" }));
  await page.getByRole("button", { name: "Submit", exact: true }).click();
  await expect.poll(() => page.getByTestId("job-state").textContent(), { timeout: 15_000 }).toBe("COMPLETED");
  await page.getByTestId("job-output").getByText('"from": "the form"').waitFor();
  expect(page.url()).toMatch(/#\/jobs\/echo-/);
});

test("a large output is cut on the page, with a download of all of it", async () => {
  const big = "x".repeat(50_000);
  const id = await submit(client, "echo", { big });
  await waitForState(client, id, JobState.COMPLETED);
  await page.goto(`${jetq.url}/ui/#/jobs/${id}`);
  const output = page.getByTestId("job-output");
  const link = output.getByRole("link", { name: /Download all/ });
  await link.waitFor({ timeout: 15_000 });
  expect((await output.locator("pre.json").textContent())!.length).toBeLessThan(25_000);
  const [download] = await Promise.all([page.waitForEvent("download"), link.click()]);
  expect(download.suggestedFilename()).toBe(`${id}-output.json`);
  const text = await readFile((await download.path())!, "utf8");
  expect(JSON.parse(text)).toEqual({ big });
});

test("a job's page shows its input as submitted; a big one is cut, with a download of all of it", async () => {
  const known = { sleep_ms: 30_000, prompt: "Summarise Q4", tags: ["a", "b"], nested: { n: 1.5, none: null } };
  const small = await submit(client, "echo", known);
  const bigInput = { sleep_ms: 30_000, big: "z".repeat(50_000) };
  const big = await submit(client, "echo", bigInput);
  try {
    await page.goto(`${jetq.url}/ui/#/jobs/${small}`);
    const input = page.getByTestId("job-input").locator("pre.json");
    await expect.poll(() => input.textContent(), { timeout: 15_000 }).toBe(JSON.stringify(known, null, 2));
    await page.goto(`${jetq.url}/ui/#/jobs/${big}`);
    const link = page.getByTestId("job-input").getByRole("link", { name: /Download all/ });
    await link.waitFor({ timeout: 15_000 });
    expect((await input.textContent())!.length).toBeLessThan(25_000);
    const [download] = await Promise.all([page.waitForEvent("download"), link.click()]);
    expect(download.suggestedFilename()).toBe(`${big}-input.json`);
    expect(JSON.parse(await readFile((await download.path())!, "utf8"))).toEqual(bigInput);
  } finally {
    await Promise.all([client.cancel({ id: small }), client.cancel({ id: big })]);
  }
});

test("keyboard only: Tab reaches a running job's Cancel button and Enter cancels it", async () => {
  const id = await submit(client, "ticker", {});
  await page.goto(`${jetq.url}/ui/#/jobs/${id}`);
  await expect.poll(() => page.getByTestId("job-state").textContent(), { timeout: 15_000 }).toBe("RUNNING");
  await page.locator("body").focus();
  let focused = "";
  for (let i = 0; i < 20 && focused !== "Cancel"; i++) {
    await page.keyboard.press("Tab");
    focused = await page.evaluate(() => {
      const doc = (globalThis as unknown as { document: { activeElement: { textContent: string | null } | null } })
        .document;
      return doc.activeElement?.textContent ?? "";
    });
  }
  expect(focused).toBe("Cancel");
  await page.keyboard.press("Enter");
  await expect.poll(() => page.getByTestId("job-state").textContent(), { timeout: 15_000 }).toBe("CANCELLED");
});

test("screenshots of the overview and of a job page", async () => {
  const demo = await submit(client, "echo", {
    report: "2026-Q4",
    rows: 1200,
    sleep_ms: 600,
    progress: 4,
    logs: ["loading rows", "rendering report"],
    fail_attempts: 1,
  });
  // A job that failed once and completed when retried: the page shows both attempts.
  await waitForState(client, demo, JobState.FAILED);
  await client.retry({ id: demo });
  await waitForState(client, demo, JobState.COMPLETED);
  const waiting = await submit(client, "ticker", {});
  await page.goto(`${jetq.url}/ui/#/`);
  await row("ticker").locator("td.running").waitFor();
  await expect.poll(() => count("ticker", "running"), { timeout: 15_000 }).toBe(1);
  await page.screenshot({ path: join(shots, "dashboard-overview.png") });
  await page.goto(`${jetq.url}/ui/#/jobs/${demo}`);
  await page.getByTestId("job-output").getByText('"report": "2026-Q4"').waitFor({ timeout: 15_000 });
  await expect.poll(() => page.locator("table.attempts tbody tr").count(), { timeout: 15_000 }).toBe(2);
  await page.screenshot({ path: join(shots, "dashboard-job.png"), fullPage: true });
  await client.cancel({ id: waiting });
  for (const file of ["dashboard-overview.png", "dashboard-job.png"]) {
    expect((await stat(join(shots, file))).size).toBeGreaterThan(10_000);
  }
  expect(refused).toEqual([]);
});
