/** A job's input from the command line: JSON text, @file, or - for stdin. */
import { readFile } from "node:fs/promises";
import { text } from "node:stream/consumers";
import { UsageError } from "./args.js";

export async function readInput(arg: string, stdin: NodeJS.ReadableStream): Promise<unknown> {
  let source: string;
  let where: string;
  if (arg === "-") {
    source = await text(stdin);
    where = "stdin";
  } else if (arg.startsWith("@")) {
    const file = arg.slice(1);
    try {
      source = await readFile(file, "utf8");
    } catch (err) {
      throw new UsageError(`input: cannot read ${file}: ${(err as Error).message}`);
    }
    where = file;
  } else {
    source = arg;
    where = "the argument";
  }
  try {
    return JSON.parse(source) as unknown;
  } catch (err) {
    throw new UsageError(`input: ${where} is not JSON: ${(err as Error).message}`);
  }
}
