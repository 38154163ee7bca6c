/**
 * The README's webhook verification example (section "Webhooks") runs: it is
 * taken from README.md as written, and must accept what jetq signs and
 * refuse another secret, another body and an old timestamp.
 */
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { parseWebhookSecret, signWebhook } from "../../src/webhooks/signing.js";

const ROOT = join(import.meta.dirname, "..", "..");
const file = join(ROOT, ".tmp", `readme-webhook-${process.pid}.ts`);
afterAll(() => rm(file, { force: true }));

type Verify = (secret: string, headers: Record<string, string>, body: string, toleranceSeconds?: number) => boolean;

test("the README's verifyJetqWebhook accepts jetq's signature and refuses the rest", async () => {
  const readme = await readFile(join(ROOT, "README.md"), "utf8");
  const blocks = [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
  const example = blocks.filter((code) => code.includes("function verifyJetqWebhook"));
  expect(example).toHaveLength(1);
  await mkdir(join(ROOT, ".tmp"), { recursive: true });
  await writeFile(file, example[0]!);
  const { verifyJetqWebhook } = (await import(file)) as { verifyJetqWebhook: Verify };

  const secret = `whsec_${Buffer.alloc(32, 42).toString("base64")}`;
  const other = `whsec_${Buffer.alloc(32, 43).toString("base64")}`;
  const body = JSON.stringify({ id: "echo-00000000001-8bVqKcX2LmZt", state: "JOB_STATE_COMPLETED" });
  const now = Math.floor(Date.now() / 1000);
  const headers = signWebhook(parseWebhookSecret(secret), "msg_echo-00000000001-8bVqKcX2LmZt_completed", now, body);
  expect(verifyJetqWebhook(secret, headers, body)).toBe(true);
  // Several signatures (key rotation): any valid one will do.
  expect(
    verifyJetqWebhook(secret, { ...headers, "webhook-signature": `v1,AAAA ${headers["webhook-signature"]}` }, body),
  ).toBe(true);
  expect(verifyJetqWebhook(other, headers, body)).toBe(false);
  expect(verifyJetqWebhook(secret, headers, `${body} `)).toBe(false);
  const old = signWebhook(parseWebhookSecret(secret), headers["webhook-id"], now - 3600, body);
  expect(verifyJetqWebhook(secret, old, body)).toBe(false);
  expect(verifyJetqWebhook(secret, { "webhook-id": "x" }, body)).toBe(false);
});
