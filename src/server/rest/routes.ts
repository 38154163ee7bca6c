/**
 * Which REST endpoint a request is for. Everything under /queue/ and
 * /openapi.json is the REST layer's (answered here, 404/405 included);
 * any other path is not (undefined), and goes on to the Connect routes.
 */
export type Route =
  | { kind: "submit"; queue: string }
  | { kind: "batch"; queue: string }
  | { kind: "count"; queue: string }
  | { kind: "status"; id: string }
  | { kind: "stream"; id: string }
  | { kind: "result"; id: string }
  | { kind: "cancel"; id: string }
  | { kind: "openapi" };

export type Match = { route: Route } | { status: 404 | 405 | 400; message: string; allow?: string } | undefined;

interface Pattern {
  /** Path segments after "queue"; ":x" takes one segment. */
  segments: string[];
  method: "GET" | "POST" | "PUT";
  route: (p: Record<string, string>) => Route;
}

// Before /queue/{queue}: a queue named "requests" has its count at /queue/requests/count ("count" is no job id).
const PATTERNS: Pattern[] = [
  { segments: [":queue", "count"], method: "GET", route: (p) => ({ kind: "count", queue: p.queue! }) },
  { segments: [":queue", "batch"], method: "POST", route: (p) => ({ kind: "batch", queue: p.queue! }) },
  { segments: ["requests", ":id", "status", "stream"], method: "GET", route: (p) => ({ kind: "stream", id: p.id! }) },
  { segments: ["requests", ":id", "status"], method: "GET", route: (p) => ({ kind: "status", id: p.id! }) },
  { segments: ["requests", ":id", "cancel"], method: "PUT", route: (p) => ({ kind: "cancel", id: p.id! }) },
  { segments: ["requests", ":id"], method: "GET", route: (p) => ({ kind: "result", id: p.id! }) },
  { segments: [":queue"], method: "POST", route: (p) => ({ kind: "submit", queue: p.queue! }) },
];

export function matchRoute(method: string | undefined, pathname: string): Match {
  if (pathname === "/openapi.json") {
    return method === "GET" ? { route: { kind: "openapi" } } : notAllowed(pathname, "GET");
  }
  if (pathname !== "/queue" && !pathname.startsWith("/queue/")) return undefined;
  let segments: string[];
  try {
    segments = pathname.split("/").slice(2).map(decodeURIComponent);
  } catch {
    return { status: 400, message: `${pathname}: not a valid percent-encoded path` };
  }
  const allowed: string[] = [];
  for (const pattern of PATTERNS) {
    const params = matchSegments(pattern.segments, segments);
    if (!params) continue;
    if (pattern.method === method) return { route: pattern.route(params) };
    allowed.push(pattern.method);
  }
  if (allowed.length > 0) return notAllowed(pathname, [...new Set(allowed)].join(", "));
  return {
    status: 404,
    message:
      `no endpoint ${method ?? "GET"} ${pathname}; the REST endpoints are POST /queue/{queue}[/batch], ` +
      "GET /queue/{queue}/count, GET /queue/requests/{id}[/status[/stream]], PUT /queue/requests/{id}/cancel " +
      "(GET /openapi.json describes them)",
  };
}

function matchSegments(pattern: string[], segments: string[]): Record<string, string> | undefined {
  if (pattern.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    const s = segments[i]!;
    if (p.startsWith(":")) {
      if (s === "") return undefined;
      params[p.slice(1)] = s;
    } else if (p !== s) return undefined;
  }
  return params;
}

function notAllowed(pathname: string, allow: string): Match {
  return { status: 405, message: `${pathname} takes ${allow}`, allow };
}
