/**
 * The container image and the compose file run jetq with the same command as
 * `npm start` / `npm run worker` (the one the process tests exercise), so the
 * node flags and entry files cannot drift apart.
 */
import { readFileSync } from "node:fs";
import { expect, it } from "vitest";
import { nodeArgsOfScript } from "../helpers/npm-script.js";

const read = (file: string) => readFileSync(new URL(`../../${file}`, import.meta.url), "utf8");

it("the Dockerfile's CMD is npm start's command", () => {
  const cmds = [...read("Dockerfile").matchAll(/^CMD (\[.*\])\s*$/gm)].map((m) => JSON.parse(m[1]!) as string[]);
  expect(cmds.at(-1)).toEqual(["node", ...nodeArgsOfScript("start")]);
});

it("the compose worker service runs npm run worker's command", () => {
  const worker = /^ {2}worker:\n(?: {4}.*\n)*? {4}command: (\[.*\])$/m.exec(read("docker-compose.yml"));
  expect(worker, "docker-compose.yml: worker service with a command").not.toBeNull();
  expect(JSON.parse(worker![1]!)).toEqual(["node", ...nodeArgsOfScript("worker")]);
});
