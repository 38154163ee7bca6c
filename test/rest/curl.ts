/** The REST endpoints as a shell user calls them: the real curl binary, its status code and JSON body. */
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface CurlAnswer {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON as the test reads it
  body: any;
  headers: string;
}

export async function curl(
  method: "GET" | "POST" | "PUT",
  url: string,
  options: { body?: string; headers?: Record<string, string>; http2?: boolean } = {},
): Promise<CurlAnswer> {
  const args = ["-sS", "-D", "-", "-X", method, "--max-time", "20", "-w", "\n%{http_code}"];
  for (const [k, v] of Object.entries(options.headers ?? {})) args.push("-H", `${k}: ${v}`);
  if (options.body !== undefined) args.push("-H", "Content-Type: application/json", "--data-binary", options.body);
  if (options.http2) args.push("--http2-prior-knowledge");
  args.push(url);
  const { stdout } = await run("curl", args, { timeout: 25_000 });
  const split = stdout.indexOf("\r\n\r\n");
  const headers = stdout.slice(0, split);
  const rest = stdout.slice(split + 4);
  const cut = rest.lastIndexOf("\n");
  const text = rest.slice(0, cut);
  return { status: Number(rest.slice(cut + 1)), body: text === "" ? undefined : JSON.parse(text), headers };
}

/** curl until `done` holds for the answer; bounded. */
export async function curlUntil(
  url: string,
  done: (a: CurlAnswer) => boolean,
  what: string,
  options: { headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<CurlAnswer> {
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  for (;;) {
    const answer = await curl("GET", url, options);
    if (done(answer)) return answer;
    if (Date.now() > deadline)
      throw new Error(`${what}: not after ${options.timeoutMs ?? 15_000} ms; last ${JSON.stringify(answer.body)}`);
    // One turn of the loop between polls: curl's own start-up paces them.
    await new Promise((r) => setImmediate(r));
  }
}
