/**
 * The dashboard's built files (packages/dashboard, `npm run build`), read
 * into memory once at start: a handful of small files, so every request is
 * answered without touching the disk, with a strong ETag and, for text,
 * gzip and brotli bodies compressed once, on the first request that accepts
 * them, off the event loop (brotli's best quality takes ~0.25 s for the
 * bundle: paid at every start it slowed each server start, tests' too).
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { extname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { brotliCompress, constants as zlib, gzip } from "node:zlib";

const brotliAsync = promisify(brotliCompress);
const gzipAsync = promisify(gzip);

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".map": "application/json",
  ".txt": "text/plain; charset=utf-8",
  ".woff2": "font/woff2",
};
const COMPRESSIBLE = new Set([".html", ".js", ".css", ".svg", ".json", ".map", ".txt"]);
/** Smaller bodies gain nothing from compression. */
const COMPRESS_FROM_BYTES = 1024;

export type Encoding = "br" | "gzip";

export interface Asset {
  body: Buffer;
  /** Text worth compressing: a gzip and a brotli body can be asked of encoded(). */
  compressible: boolean;
  /** The compressed bodies made so far (or being made). */
  encodings: Partial<Record<Encoding, Promise<Buffer>>>;
  contentType: string;
  etag: string;
  /** Under assets/: Vite put a content hash in the name, so it never changes. */
  immutable: boolean;
}

/** URL path below /ui/ (e.g. "index.html", "assets/index-3f2a.js") -> file. */
export type Assets = ReadonlyMap<string, Asset>;

/**
 * Where `npm run build` puts the dashboard: packages/dashboard/dist beside
 * src/ (running from source, as the tests do) or beside dist/ (compiled).
 */
export function defaultAssetsDir(): string | undefined {
  const candidates = ["../../../packages/dashboard/dist", "../../../../packages/dashboard/dist"];
  for (const candidate of candidates) {
    const dir = fileURLToPath(new URL(candidate, import.meta.url));
    if (existsSync(join(dir, "index.html"))) return dir;
  }
  return undefined;
}

/** Every file under dir; an empty map when dir is missing. */
export function loadAssets(dir: string | undefined): Assets {
  const assets = new Map<string, Asset>();
  if (!dir || !existsSync(dir)) return assets;
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = join(entry.parentPath, entry.name);
    const path = relative(dir, file).split(sep).join("/");
    assets.set(path, describe(path, readFileSync(file)));
  }
  return assets;
}

function describe(path: string, body: Buffer): Asset {
  const ext = extname(path).toLowerCase();
  const asset: Asset = {
    body,
    contentType: CONTENT_TYPES[ext] ?? "application/octet-stream",
    etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`,
    immutable: path.startsWith("assets/"),
    compressible: COMPRESSIBLE.has(ext) && body.length >= COMPRESS_FROM_BYTES,
    encodings: {},
  };
  return asset;
}

/** The asset's body in that encoding, compressed once; the plain body if compression fails. */
export function encoded(asset: Asset, encoding: Encoding): Promise<Buffer> {
  let body = asset.encodings[encoding];
  if (!body) {
    body = (
      encoding === "br"
        ? brotliAsync(asset.body, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11 } })
        : gzipAsync(asset.body, { level: 9 })
    ).catch(() => asset.body);
    asset.encodings[encoding] = body;
  }
  return body;
}
