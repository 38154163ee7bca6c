// The API key lives in this tab's sessionStorage (gone when the tab closes,
// never in the URL). /ui/api/session says whether the server wants one and
// what the key may do, so the page shows only the actions it may use.
const KEY = "jetq.apiKey";

export interface Session {
  auth: boolean;
  role?: string;
  tenant?: string;
  name?: string;
  queues?: "*" | string[];
  rpcs: string[];
}

export function apiKey(): string | null {
  return sessionStorage.getItem(KEY);
}

export function setApiKey(key: string | null): void {
  if (key) sessionStorage.setItem(KEY, key);
  else sessionStorage.removeItem(KEY);
}

/** The session, or why the key was refused (401: ask for another). */
export async function loadSession(): Promise<{ ok: true; session: Session } | { ok: false; message: string }> {
  const key = apiKey();
  const res = await fetch("/ui/api/session", {
    headers: key ? { authorization: `Bearer ${key}` } : {},
    cache: "no-store",
  });
  const body = (await res.json()) as Session & { error?: string };
  if (res.status === 401) return { ok: false, message: key ? (body.error ?? "unknown key") : "" };
  if (!res.ok) throw new Error(`session: HTTP ${res.status}`);
  current = body;
  return { ok: true, session: body };
}

let current: Session = { auth: false, rpcs: [] };

/** May this session call rpc (on queue, when it acts on one)? */
export function can(rpc: string, queue?: string): boolean {
  if (!current.rpcs.includes(rpc)) return false;
  if (queue === undefined || !current.auth || current.role === "admin" || current.queues === "*") return true;
  return current.queues?.includes(queue) ?? false;
}

export function session(): Session {
  return current;
}
