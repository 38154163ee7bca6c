#!/usr/bin/env node
/** `jetq`: the command line of @jetq/client. Exit codes: 0 done, 1 the job did not complete, 2 usage or transport. */
import { readFileSync } from "node:fs";
import { JetqError } from "@jetq/client";
import { parseCli, USAGE, UsageError } from "./args.js";
import { runCommand } from "./commands.js";

async function main(argv: string[]): Promise<number> {
  try {
    const cli = parseCli(argv, process.env);
    if (cli.command === "help") {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    if (cli.command === "version") {
      const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
      process.stdout.write(`${pkg.version}\n`);
      return 0;
    }
    return await runCommand(cli, { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin });
  } catch (err) {
    if (err instanceof UsageError) process.stderr.write(`jetq: ${err.message}\n\n${USAGE}\n`);
    else if (err instanceof JetqError) process.stderr.write(`jetq: ${err.message}\n`);
    else process.stderr.write(`jetq: ${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
}

process.exitCode = await main(process.argv.slice(2));
