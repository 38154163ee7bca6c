/**
 * Log format (README "Logs"): `npm start` prints for people on a terminal and
 * JSON lines anywhere else; JETQ_LOG_FORMAT decides instead. The terminal is
 * a pseudo-terminal made by util-linux's `script`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { afterEach, expect, it } from "vitest";
import { freePort } from "../helpers/free-port.js";
import { nodeArgsOfScript } from "../helpers/npm-script.js";
import { killAll, startProcess } from "./process.js";

const ROOT = new URL("../..", import.meta.url).pathname;
const PRETTY_LISTENING = /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO \(jetq\): jetq listening on http:\/\/127\.0\.0\.1:\d+/m;
const terminals = new Set<ChildProcess>();
/** Colour escapes (ESC [ ... m). */
const ANSI_COLOUR = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g");

afterEach(() => {
  killAll();
  for (const t of terminals) if (t.pid && t.exitCode === null) process.kill(-t.pid, "SIGKILL");
  terminals.clear();
});

/** `npm start` on a pseudo-terminal: its output (colours removed) once it says it listens. */
async function startOnTerminal(env: Record<string, string>): Promise<string> {
  const port = await freePort();
  const command = [process.execPath, ...nodeArgsOfScript("start")].map((a) => `'${a}'`).join(" ");
  const proc = spawn("script", ["-qfec", command, "/dev/null"], {
    cwd: ROOT,
    detached: true,
    env: { ...process.env, PORT: String(port), HOST: "127.0.0.1", ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  terminals.add(proc);
  let out = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "listening" line in 20s; got:\n${out}`)), 20_000);
    proc.stdout!.on("data", (d: Buffer) => {
      out += d.toString().replace(ANSI_COLOUR, "").replace(/\r/g, "");
      if (out.includes("listening")) {
        clearTimeout(timer);
        resolve(out);
      }
    });
    proc.once("exit", (code) => reject(new Error(`exited (${code}) before listening:\n${out}`)));
  });
}

it("on a terminal the lines are for people; JETQ_LOG_FORMAT=json keeps JSON there", async () => {
  expect(await startOnTerminal({})).toMatch(PRETTY_LISTENING);
  const json = await startOnTerminal({ JETQ_LOG_FORMAT: "json" });
  const line = json.split("\n").find((l) => l.includes("listening"))!;
  expect(JSON.parse(line)).toMatchObject({ level: 30, name: "jetq", msg: expect.stringContaining("jetq listening") });
});

it("off a terminal the lines are JSON; JETQ_LOG_FORMAT=pretty prints for people there", async () => {
  const port = await freePort();
  const pretty = startProcess("start", { PORT: String(port), HOST: "127.0.0.1", JETQ_LOG_FORMAT: "pretty" });
  const line = await pretty.waitForLine((l) => l.msg.includes("listening"));
  // Not JSON: the process helper kept the raw text.
  expect(line.level).toBe(0);
  expect(line.msg).toMatch(PRETTY_LISTENING);
});
