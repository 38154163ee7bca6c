/**
 * The web dashboard on the API port: GET /ui/ is the single-page app
 * (packages/dashboard, built by `npm run build`), /ui/assets/* its hashed
 * files, /ui/api/session who the caller's key is (session.ts), and GET /
 * redirects to /ui/. JETQ_UI=false turns all of it off.
 */
import type * as http from "node:http";
import type * as http2 from "node:http2";
import type { KeyStore } from "../../auth/index.js";
import { encoded, type Asset, type Assets } from "./assets.js";
import { IMMUTABLE, pickEncoding, REVALIDATE, SECURITY_HEADERS } from "./headers.js";
import { describeSession } from "./session.js";

type Req = http.IncomingMessage | http2.Http2ServerRequest;
/** What node's HTTP/1.1 and HTTP/2 compatibility responses have in common. */
interface Res {
  writeHead(status: number, headers: Record<string, string>): unknown;
  end(): unknown;
  end(body: string | Uint8Array): unknown;
}

export const UI_PREFIX = "/ui/";

/** Answers the dashboard's paths; false (nothing written) for any other path. */
export function createUiHandler(assets: Assets, keys: KeyStore): (req: Req, res: Res) => boolean {
  return (req, res) => {
    const path = (req.url ?? "/").split("?", 1)[0]!;
    if (path === "/" || path === "/ui") {
      if (!isRead(req, res)) return true;
      res.writeHead(302, { location: UI_PREFIX, "cache-control": "no-store", ...SECURITY_HEADERS });
      res.end();
      return true;
    }
    if (!path.startsWith(UI_PREFIX)) return false;
    if (!isRead(req, res)) return true;
    const name = path.slice(UI_PREFIX.length) || "index.html";
    if (name === "api/session") {
      const answer = describeSession(keys, req.headers.authorization);
      res.writeHead(answer.status, {
        "content-type": "application/json",
        "cache-control": "no-store",
        ...SECURITY_HEADERS,
        ...(answer.status === 401 ? { "www-authenticate": 'Bearer realm="jetq"' } : {}),
      });
      res.end(req.method === "HEAD" ? "" : `${JSON.stringify(answer.body)}\n`);
      return true;
    }
    const asset = assets.get(name);
    // A client gone while its body was compressed: nothing left to answer.
    if (asset) sendAsset(req, res, asset).catch(() => undefined);
    else notFound(res, assets.size === 0);
    return true;
  };
}

/** GET and HEAD only; anything else is answered 405 here. */
function isRead(req: Req, res: Res): boolean {
  if (req.method === "GET" || req.method === "HEAD") return true;
  res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8", ...SECURITY_HEADERS });
  res.end("jetq dashboard: GET only\n");
  return false;
}

async function sendAsset(req: Req, res: Res, asset: Asset): Promise<void> {
  const headers: Record<string, string> = {
    "content-type": asset.contentType,
    "cache-control": asset.immutable ? IMMUTABLE : REVALIDATE,
    etag: asset.etag,
    ...SECURITY_HEADERS,
  };
  if (asset.compressible) headers.vary = "Accept-Encoding";
  if (req.headers["if-none-match"] === asset.etag) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  const encoding = asset.compressible ? pickEncoding(req.headers["accept-encoding"]) : undefined;
  const body = encoding ? await encoded(asset, encoding) : asset.body;
  if (body !== asset.body) headers["content-encoding"] = encoding!;
  headers["content-length"] = String(body.length);
  res.writeHead(200, headers);
  if (req.method === "HEAD") res.end();
  else res.end(body);
}

function notFound(res: Res, notBuilt: boolean): void {
  res.writeHead(notBuilt ? 503 : 404, {
    "content-type": "text/plain; charset=utf-8",
    "cache-control": "no-store",
    ...SECURITY_HEADERS,
  });
  res.end(
    notBuilt
      ? "jetq dashboard: not built (run `npm run build`, which builds packages/dashboard)\n"
      : "jetq dashboard: no such file\n",
  );
}
