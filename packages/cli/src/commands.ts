/** Each command of `jetq`, returning its exit code (0 done, 1 the job did not complete). */
import { createJetqClient, JobError, type Job, type JetqClient, type JobOptions } from "@jetq/client";
import type { Cli } from "./args.js";
import { jobs, queues, retry, setPaused } from "./control.js";
import { readInput } from "./input.js";
import { formatJob, formatOutput, liveView, resultJson, statusLine, type Sink } from "./render.js";

export interface Io {
  stdout: Sink & { isTTY?: boolean };
  stderr: Sink & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream;
}

export async function runCommand(cli: Cli, io: Io): Promise<number> {
  const client = createJetqClient({ baseUrl: cli.url, ...(cli.key ? { apiKey: cli.key } : {}) });
  const id = cli.args[0]!;
  switch (cli.command) {
    case "submit":
      return submit(client, cli, io);
    case "status": {
      const job = await client.job(id).status();
      io.stdout.write(`${cli.json ? JSON.stringify(job) : formatJob(job)}\n`);
      return 0;
    }
    case "watch":
      return watch(client, cli, io);
    case "result": {
      const r = await client.job(id).result();
      if (cli.json) io.stdout.write(`${resultJson(r)}\n`);
      else if (r.state === "COMPLETED") io.stdout.write(`${formatOutput(r.output)}\n`);
      else io.stderr.write(`job ${r.id} ${r.state}${r.error ? ` (${r.error.code}): ${r.error.message}` : ""}\n`);
      return r.state === "COMPLETED" ? 0 : 1;
    }
    case "cancel": {
      const c = await client.job(id).cancel();
      io.stdout.write(cli.json ? `${JSON.stringify(c)}\n` : `${c.message}\n${statusLine(c.job, false)}\n`);
      return 0;
    }
    case "count": {
      const n = await client.queueCount(id);
      const paused = n.paused ? " (paused)" : "";
      io.stdout.write(
        cli.json ? `${JSON.stringify(n)}\n` : `${n.queue}: ${n.inQueue} queued, ${n.running} running${paused}\n`,
      );
      return 0;
    }
    case "retry":
      return retry(client, cli, io.stdout);
    case "queues":
      return queues(client, cli, io.stdout);
    case "jobs":
      return jobs(client, cli, io.stdout, io.stderr);
    case "pause":
      return setPaused(client, cli, io.stdout, true);
    case "resume":
      return setPaused(client, cli, io.stdout, false);
    default:
      throw new Error(`unhandled command ${cli.command}`);
  }
}

async function submit(client: JetqClient, cli: Cli, io: Io): Promise<number> {
  const [queue, inputArg] = cli.args as [string, string];
  const input = await readInput(inputArg, io.stdin);
  const options: JobOptions = {
    ...(cli.maxAttempts ? { maxAttempts: cli.maxAttempts } : {}),
    ...(cli.priority ? { priority: cli.priority } : {}),
    ...(cli.delayMs ? { delayMs: cli.delayMs } : {}),
    ...(cli.runAt ? { runAt: cli.runAt } : {}),
  };
  const common = {
    ...(cli.idempotencyKey ? { idempotencyKey: cli.idempotencyKey } : {}),
    ...(Object.keys(options).length > 0 ? { options } : {}),
    ...(cli.timeoutMs ? { timeoutMs: cli.timeoutMs } : {}),
  };
  if (!cli.wait) {
    const handle = await client.submit(queue, input, common);
    io.stdout.write(cli.json ? `${JSON.stringify({ id: handle.id })}\n` : `${handle.id}\n`);
    return 0;
  }
  // stdout is for the output: the live view goes to stderr, drawn only on a terminal.
  const view = cli.json ? undefined : liveView(io.stderr, cli.tty ?? io.stderr.isTTY === true);
  try {
    const done = await client.subscribe(queue, input, {
      ...common,
      logs: view !== undefined,
      onUpdate: (job) => view?.update(job),
    });
    view?.end();
    io.stdout.write(
      cli.json
        ? `${resultJson({ ...done, state: "COMPLETED", error: undefined })}\n`
        : `${formatOutput(done.output)}\n`,
    );
    return 0;
  } catch (err) {
    view?.end();
    if (err instanceof JobError) return jobFailed(err.job, cli, io);
    throw err;
  }
}

async function watch(client: JetqClient, cli: Cli, io: Io): Promise<number> {
  const handle = client.job(cli.args[0]!);
  const view = cli.json ? undefined : liveView(io.stdout, cli.tty ?? io.stdout.isTTY === true);
  let last: Job | undefined;
  for await (const job of handle.stream({ logs: !cli.json, ...(cli.timeoutMs ? { timeoutMs: cli.timeoutMs } : {}) })) {
    last = job;
    if (view) view.update(job);
    else io.stdout.write(`${JSON.stringify(job)}\n`);
  }
  view?.end();
  if (!last || last.state !== "COMPLETED") return jobFailed(last!, cli, io);
  const result = await handle.result();
  io.stdout.write(cli.json ? `${resultJson(result)}\n` : `${formatOutput(result.output)}\n`);
  return 0;
}

function jobFailed(job: Job, cli: Cli, io: Io): number {
  if (cli.json)
    io.stdout.write(`${resultJson({ id: job.id, state: job.state, output: undefined, error: job.error })}\n`);
  else io.stderr.write(`job ${job.id} ${job.state}${job.error ? ` (${job.error.code}): ${job.error.message}` : ""}\n`);
  return 1;
}
