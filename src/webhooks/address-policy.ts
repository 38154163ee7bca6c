/**
 * Where a webhook may go: not to this machine nor the private network
 * (loopback, private, link-local, carrier-grade NAT, multicast, reserved;
 * IPv4-mapped and NAT64 IPv6 forms of them too), unless its host is in
 * JETQ_WEBHOOK_ALLOWED_HOSTS. A host name is checked on every address it
 * resolves to, when the request connects (sender.ts passes checkedLookup to
 * the socket), so a name cannot resolve to a public address at a check and
 * to a private one at the connect.
 */
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { BlockList, isIP, type LookupFunction } from "node:net";

const blocked = new BlockList();
for (const [net, bits] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
] as const) {
  blocked.addSubnet(net, bits, "ipv4");
}
for (const [net, bits] of [
  ["::", 128],
  ["::1", 128],
  ["fc00::", 7],
  ["fe80::", 10],
  ["ff00::", 8],
] as const) {
  blocked.addSubnet(net, bits, "ipv6");
}

/** The IPv4 address inside an IPv4-mapped (::ffff:a.b.c.d), -compatible (::a.b.c.d) or NAT64 (64:ff9b::) IPv6 one. */
function embeddedIPv4(ip: string): string | undefined {
  const bytes = ipv6Bytes(ip);
  if (!bytes) return undefined;
  const head = bytes.subarray(0, 12);
  const mapped = head.subarray(0, 10).every((b) => b === 0) && head[10] === 0xff && head[11] === 0xff;
  const compatible = head.every((b) => b === 0);
  const nat64 =
    bytes[0] === 0x00 &&
    bytes[1] === 0x64 &&
    bytes[2] === 0xff &&
    bytes[3] === 0x9b &&
    head.subarray(4).every((b) => b === 0);
  if (!mapped && !compatible && !nat64) return undefined;
  return [...bytes.subarray(12)].join(".");
}

function ipv6Bytes(ip: string): Uint8Array | undefined {
  let text = ip.toLowerCase().split("%")[0]!;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const parts = dotted[1]!.split(".").map(Number);
    const hex = (a: number, b: number) => ((a << 8) | b).toString(16);
    text = text.slice(0, -dotted[1]!.length) + `${hex(parts[0]!, parts[1]!)}:${hex(parts[2]!, parts[3]!)}`;
  }
  const [left, right] = text.split("::") as [string, string | undefined];
  const groups = (s: string | undefined) => (s ? s.split(":") : []);
  const l = groups(left);
  const r = groups(right);
  const fill = right === undefined ? [] : new Array<string>(8 - l.length - r.length).fill("0");
  const all = [...l, ...fill, ...r];
  if (all.length !== 8) return undefined;
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    const n = parseInt(g, 16);
    out[i * 2] = n >> 8;
    out[i * 2 + 1] = n & 0xff;
  });
  return out;
}

/** Whether an IP address (v4 or v6) is loopback, private, link-local or otherwise not public. */
export function isPrivateAddress(ip: string): boolean {
  const family = isIP(ip);
  if (family === 4) return blocked.check(ip, "ipv4");
  if (family !== 6) return true; // not an address: never a place to send to
  const v4 = embeddedIPv4(ip);
  if (v4 !== undefined) return blocked.check(v4, "ipv4");
  return blocked.check(ip.split("%")[0]!, "ipv6");
}

/** The URL's host as compared with the allow-list: lower case, IPv6 without brackets. */
export function hostOf(url: URL): string {
  return url.hostname.toLowerCase().replace(/^\[(.*)\]$/, "$1");
}

export type HostAllowed = (host: string) => boolean;

/** JETQ_WEBHOOK_ALLOWED_HOSTS: host names or IPs that may be private. */
export function allowedHosts(list: readonly string[]): HostAllowed {
  const set = new Set(
    list
      .map((h) =>
        h
          .trim()
          .toLowerCase()
          .replace(/^\[(.*)\]$/, "$1"),
      )
      .filter((h) => h !== ""),
  );
  return (host) => set.has(host);
}

/** Why the URL's host is refused when it is an IP literal, or undefined (names are checked when they resolve). */
export function literalHostProblem(url: URL, allowed: HostAllowed): string | undefined {
  const host = hostOf(url);
  if (isIP(host) === 0 || allowed(host) || !isPrivateAddress(host)) return undefined;
  return `${host} is a private, loopback or link-local address; add it to JETQ_WEBHOOK_ALLOWED_HOSTS to allow it`;
}

/** A socket lookup that refuses names resolving to a private address, unless the name is allowed. */
export function checkedLookup(allowed: HostAllowed): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, "", 0);
      const name = hostname.toLowerCase();
      if (!allowed(name)) {
        const bad = addresses.find((a) => isPrivateAddress(a.address));
        if (bad) {
          const refused = new Error(
            `${hostname} resolves to ${bad.address}, a private, loopback or link-local address; add ${hostname} to JETQ_WEBHOOK_ALLOWED_HOSTS to allow it`,
          );
          return callback(Object.assign(refused, { code: "EWEBHOOKPRIVATE" }), "", 0);
        }
      }
      if (options.all) return (callback as (e: null, a: LookupAddress[]) => void)(null, addresses);
      const first = addresses[0];
      if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: "ENOTFOUND" }), "", 0);
      callback(null, first.address, first.family);
    });
  };
}
