/**
 * One attempt of one webhook: a POST with a time limit, to an address the
 * address policy allows (address-policy.ts), never following a redirect
 * (node's http client does not: a 3xx is an answer like any other, and not
 * a 2xx). The answer's body is read and dropped.
 */
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { checkedLookup, literalHostProblem, type HostAllowed } from "./address-policy.js";

export type SendResult = { status: number } | { error: string; refused?: boolean };

export interface SendOptions {
  timeoutMs: number;
  allowed: HostAllowed;
  headers: Record<string, string>;
}

export function sendWebhook(target: string, body: string, options: SendOptions): Promise<SendResult> {
  const url = new URL(target);
  const problem = literalHostProblem(url, options.allowed);
  if (problem) return Promise.resolve({ error: problem, refused: true });
  const request = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise<SendResult>((resolve) => {
    let settled = false;
    const settle = (result: SendResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const req = request(
      url,
      {
        method: "POST",
        lookup: checkedLookup(options.allowed),
        headers: {
          ...options.headers,
          "content-type": "application/json",
          "content-length": String(Buffer.byteLength(body)),
          "user-agent": "jetq-webhooks",
        },
      },
      (res: IncomingMessage) => {
        res.resume();
        settle({ status: res.statusCode ?? 0 });
      },
    );
    const timer = setTimeout(() => {
      settle({ error: `no answer within ${options.timeoutMs} ms` });
      req.destroy();
    }, options.timeoutMs);
    req.on("error", (err: NodeJS.ErrnoException) => {
      settle({ error: err.message, ...(err.code === "EWEBHOOKPRIVATE" ? { refused: true } : {}) });
    });
    req.end(body);
  });
}
