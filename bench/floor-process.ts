/**
 * bench/http-floor-server.ts as a child process, run as jetq is: compiled
 * (tsconfig.build.json builds it into dist/) with `npm start`'s node flags,
 * so the floor and jetq pay the same for the code they share.
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { nodeArgsOfScript } from "../test/helpers/npm-script.js";
import { stopProcess, track } from "./processes.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SCRIPT = "dist/bench/http-floor-server.js";

export interface FloorProcess {
  readonly pid: number;
  /** http://127.0.0.1:<port> */
  readonly url: string;
  stop(): Promise<void>;
}

/** Resolves once the server has printed its port. */
export async function startFloorServer(): Promise<FloorProcess> {
  const nodeFlags = nodeArgsOfScript("start").slice(0, -1);
  const proc = spawn(process.execPath, [...nodeFlags, SCRIPT], { cwd: ROOT, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  track(proc, "http-floor-server");
  let stderr = "";
  proc.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const lines = createInterface({ input: proc.stdout! });
  try {
    const line = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`${SCRIPT}: no port after 30 s:\n${stderr}`)), 30_000);
      const onExit = (code: number | null) => fail(new Error(`${SCRIPT} exited with ${code}:\n${stderr}`));
      const onLine = (line: string) => {
        done();
        resolve(line);
      };
      const done = () => {
        clearTimeout(timer);
        proc.off("exit", onExit);
      };
      const fail = (err: Error) => {
        done();
        lines.off("line", onLine);
        reject(err);
      };
      proc.once("exit", onExit);
      lines.once("line", onLine);
    });
    const { port } = JSON.parse(line) as { port: number };
    return { pid: proc.pid!, url: `http://127.0.0.1:${port}`, stop: () => stopProcess(proc) };
  } catch (err) {
    await stopProcess(proc);
    throw err;
  }
}
