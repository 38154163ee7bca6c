/**
 * The one way tests get a NATS server: a real nats-server process on free
 * ports with its own temporary store, killed when the test is done.
 * Nothing depends on a server already running on the machine.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./free-port.js";

export interface NatsServer {
  /** nats://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  /** http://127.0.0.1:<port> of the monitoring endpoints (/connz, /jsz, ...). */
  readonly monitorUrl: string;
  readonly storeDir: string;
  /** SIGKILL, as a crash would. The store stays for restart(). */
  kill(): Promise<void>;
  /** Starts again on the same ports and store. */
  restart(): Promise<void>;
  /** Kills the process and removes the store. */
  stop(): Promise<void>;
}

export interface NatsServerOptions {
  /** Extra lines of nats-server configuration. */
  config?: string;
  name?: string;
}

const BINARY = process.env.NATS_SERVER_BIN ?? "nats-server";
const READY_TIMEOUT_MS = 15_000;

/** Attempts at a start whose port another process took between the check and the bind. */
const PORT_CLASH_RETRIES = 3;

export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnFreePorts(options);
    } catch (err) {
      const clash = err instanceof Error && err.message.includes("address already in use");
      if (!clash || attempt > PORT_CLASH_RETRIES) throw err;
    }
  }
}

async function startOnFreePorts(options: NatsServerOptions): Promise<NatsServer> {
  const storeDir = await mkdtemp(join(tmpdir(), "jetq-nats-"));
  const port = await freePort();
  const monitorPort = await freePort();
  const name = options.name ?? `jetq-test-${port}`;
  const confFile = join(storeDir, "nats.conf");
  await writeFile(
    confFile,
    [
      `server_name: "${name}"`,
      `listen: "127.0.0.1:${port}"`,
      `http: "127.0.0.1:${monitorPort}"`,
      `jetstream { store_dir: "${join(storeDir, "js")}" }`,
      options.config ?? "",
    ].join("\n"),
  );
  try {
    return await launch({ confFile, storeDir, port, monitorPort });
  } catch (err) {
    await rm(storeDir, { recursive: true, force: true });
    throw err;
  }
}

export interface NatsCluster {
  readonly servers: NatsServer[];
  /** All client URLs, comma separated, for NATS_URL. */
  readonly url: string;
  stop(): Promise<void>;
}

/** A JetStream cluster of `size` nodes on loopback, one store dir each. */
export async function startNatsCluster(size = 3): Promise<NatsCluster> {
  const routePorts = await Promise.all(Array.from({ length: size }, () => freePort()));
  const routes = routePorts.map((p) => `nats-route://127.0.0.1:${p}`).join(", ");
  const servers = await Promise.all(
    routePorts.map((routePort, i) =>
      startNatsServer({
        name: `jetq-node-${i}`,
        config: `cluster { name: "jetq-test", listen: "127.0.0.1:${routePort}", routes: [${routes}] }`,
      }),
    ),
  );
  return {
    servers,
    url: servers.map((s) => s.url).join(","),
    stop: async () => {
      await Promise.all(servers.map((s) => s.stop()));
    },
  };
}

interface LaunchSpec {
  confFile: string;
  storeDir: string;
  port: number;
  monitorPort: number;
}

async function launch(spec: LaunchSpec): Promise<NatsServer> {
  let child: ChildProcess | undefined;

  const start = async () => {
    const proc = spawn(BINARY, ["-c", spec.confFile], { stdio: ["ignore", "ignore", "pipe"] });
    child = proc;
    let log = "";
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`nats-server not ready after ${READY_TIMEOUT_MS} ms:\n${log}`)),
        READY_TIMEOUT_MS,
      );
      proc.once("error", (err) => {
        clearTimeout(timer);
        reject(
          new Error(
            `cannot run ${BINARY} (${err.message}); install it with "apt-get install nats-server" or set NATS_SERVER_BIN`,
          ),
        );
      });
      const exitedEarly = (code: number | null) => {
        clearTimeout(timer);
        reject(new Error(`nats-server exited with ${code} before it was ready:\n${log}`));
      };
      proc.once("exit", exitedEarly);
      const watchLog = (chunk: Buffer) => {
        if (log.length < 20_000) log += chunk.toString();
        if (!log.includes("Server is ready")) return;
        clearTimeout(timer);
        // Only our own listeners: kill() adds an exit listener later, and a
        // server logging while it is stopped must not take that one away.
        proc.off("exit", exitedEarly);
        proc.stderr!.off("data", watchLog);
        resolve();
      };
      proc.stderr!.on("data", watchLog);
    });
    // Keep draining stderr so the server never blocks on a full pipe.
    proc.stderr!.resume();
  };

  const kill = async () => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once("exit", () => resolve());
      proc.kill("SIGKILL");
    });
  };

  await start();
  return {
    url: `nats://127.0.0.1:${spec.port}`,
    port: spec.port,
    monitorUrl: `http://127.0.0.1:${spec.monitorPort}`,
    storeDir: spec.storeDir,
    kill,
    restart: async () => {
      await kill();
      await start();
    },
    stop: async () => {
      await kill();
      await rm(spec.storeDir, { recursive: true, force: true });
    },
  };
}
