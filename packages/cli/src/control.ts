/** The commands that steer jobs and queues: queues, jobs, retry, pause, resume. Each returns its exit code. */
import type { JetqClient, Job } from "@jetq/client";
import type { Cli } from "./args.js";
import { statusLine, type Sink } from "./render.js";
import { jobsTable, queuesTable } from "./tables.js";

/** The most ListJobs gives in one page. */
const MAX_PAGE = 500;

export async function queues(client: JetqClient, cli: Cli, out: Sink): Promise<number> {
  const list = await client.listQueues();
  out.write(`${cli.json ? JSON.stringify(list) : queuesTable(list)}\n`);
  return 0;
}

/** Up to --limit jobs, paging as needed; says on stderr when there are more. */
export async function jobs(client: JetqClient, cli: Cli, out: Sink, err: Sink): Promise<number> {
  const queue = cli.args[0]!;
  const found: Job[] = [];
  let more = false;
  const pageSize = Math.min(cli.limit + 1, MAX_PAGE);
  // One job past the limit tells whether there are more, without another page when the limit fits in one.
  for await (const job of client.jobs({ queue, state: cli.state, pageSize })) {
    if (found.length === cli.limit) {
      more = true;
      break;
    }
    found.push(job);
  }
  if (cli.json) {
    out.write(`${JSON.stringify(found)}\n`);
    return 0;
  }
  out.write(found.length === 0 ? `no ${cli.state} jobs in ${queue}\n` : `${jobsTable(found)}\n`);
  if (more) err.write(`(more than ${cli.limit} ${cli.state} jobs: raise --limit to see more)\n`);
  return 0;
}

export async function retry(client: JetqClient, cli: Cli, out: Sink): Promise<number> {
  const job = await client.retry(cli.args[0]!);
  out.write(cli.json ? `${JSON.stringify(job)}\n` : `${statusLine(job, false)}\n`);
  return 0;
}

export async function setPaused(client: JetqClient, cli: Cli, out: Sink, paused: boolean): Promise<number> {
  const queue = cli.args[0]!;
  const q = paused ? await client.pauseQueue(queue) : await client.resumeQueue(queue);
  out.write(
    cli.json
      ? `${JSON.stringify(q)}\n`
      : `${q.name}: ${q.paused ? "paused" : "resumed"} (${q.waiting} waiting, ${q.running} running)\n`,
  );
  return 0;
}
