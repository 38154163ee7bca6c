/**
 * bench/http-floor-server.ts as a child process, run as jetq is: compiled
 * (tsconfig.build.json builds it into dist/) with `npm start`'s node flags,
 * so the floor and jetq pay the same for the code they share.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { freePort } from "../test/helpers/free-port.js";
import { nodeFlagsOfScript } from "../test/helpers/npm-script.js";
import { stopProcess, track, untilHealthy } from "./processes.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SCRIPT = "dist/bench/http-floor-server.js";

export interface FloorProcess {
  readonly pid: number;
  /** http://127.0.0.1:<port> */
  readonly url: string;
  stop(): Promise<void>;
}

/** Resolves once the server answers /healthz. */
export async function startFloorServer(): Promise<FloorProcess> {
  const port = await freePort();
  const proc = spawn(process.execPath, [...nodeFlagsOfScript("start"), SCRIPT], {
    cwd: ROOT,
    detached: true,
    env: { ...process.env, PORT: String(port) },
    stdio: ["ignore", "ignore", "pipe"],
  });
  track(proc, "http-floor-server");
  let stderr = "";
  proc.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  await untilHealthy(proc, url, SCRIPT, () => stderr);
  return { pid: proc.pid!, url, stop: () => stopProcess(proc) };
}
