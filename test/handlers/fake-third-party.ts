/**
 * A careless third-party API on loopback: under /v1/echo/<form> it sends the
 * bearer token it was given back in one encoding or another, the way real
 * APIs quote credentials in errors, debug echoes and headers.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
  body: string;
}

export interface ThirdParty {
  server: Server;
  port: number;
  seen: Seen[];
  close(): void;
}

/** Each form: status, content type, body, extra headers, made from the token. */
const FORMS: Record<string, (token: string) => [number, string, string, Record<string, string>?]> = {
  "json-escaped": (t) => [
    200,
    "application/json",
    `{"echo":"${[...t].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`).join("")}","slashed":"${t.replaceAll("/", "\\/")}"}`,
  ],
  "json-escaped-text": (t) => [
    200,
    "text/plain",
    `{"echo":"${t.replace(/[a-z]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`)}"}`,
  ],
  base64: (t) => [200, "text/plain", `token=${Buffer.from(t).toString("base64")}`],
  "base64-url": (t) => [200, "application/json", JSON.stringify({ token: Buffer.from(t).toString("base64url") })],
  "base64-bearer": (t) => [200, "text/plain", Buffer.from(`Bearer ${t}`).toString("base64")],
  hex: (t) => [200, "application/json", JSON.stringify({ hex: Buffer.from(t).toString("hex").toUpperCase() })],
  percent: (t) => [
    200,
    "text/plain",
    `next=https://x.example/?key=${encodeURIComponent(t).replace(/[a-z]/g, (c) => `%${c.charCodeAt(0).toString(16)}`)}`,
  ],
  "lower-case": (t) => [200, "text/plain", `unknown key: ${t.toLowerCase()}`],
  "upper-case": (t) => [200, "application/json", JSON.stringify({ KEY: t.toUpperCase() })],
  header: (t) => [
    200,
    "text/plain",
    "ok",
    { "x-echo-auth": `Bearer ${t}`, "x-echo-b64": Buffer.from(t).toString("base64") },
  ],
  "error-401": (t) => [401, "application/json", JSON.stringify({ error: `invalid api key Bearer ${t}` })],
  "error-500": (t) => [500, "text/plain", `backend failed for ${Buffer.from(t).toString("hex")} / ${t}`],
  plain: (t) => [200, "text/plain", t],
};

export const ECHO_FORMS = Object.keys(FORMS);

export async function startThirdParty(): Promise<ThirdParty> {
  const seen: Seen[] = [];
  let flaky = 0;
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    let body = "";
    for await (const chunk of req) body += chunk;
    seen.push({ method: req.method ?? "", url: req.url ?? "", authorization: req.headers.authorization, body });
    const path = (req.url ?? "").split("?", 1)[0]!;
    const token = (req.headers.authorization ?? "").replace(/^Bearer /, "");
    const form = FORMS[path.replace(/^\/v1\/echo\//, "")];
    if (form && path.startsWith("/v1/echo/")) {
      const [status, type, text, headers] = form(token);
      res.writeHead(status, { "content-type": type, ...headers });
      res.end(text);
    } else if (path === "/v1/request" || path === "/echo-request") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ url: req.url, body }));
    } else if (path === "/bad-request") {
      res.writeHead(400, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: `invalid key ${req.headers.authorization}` }));
    } else if (path === "/flaky") {
      flaky += 1;
      res.writeHead(flaky < 3 ? 503 : 200, { "content-type": "text/plain" });
      res.end(flaky < 3 ? "try later" : "finally");
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port, seen, close: () => server.close() };
}
