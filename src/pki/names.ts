import { isIPv4, isIPv6 } from "node:net";
import { inputError } from "../errors.js";

/** A subjectAltName entry. */
export type AltName = { type: "dns"; value: string } | { type: "ip"; value: string };

export interface AltNames {
  dns: string[];
  ips: string[];
}

export const emptyAltNames = (): AltNames => ({ dns: [], ips: [] });

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Why `name` is not a DNS name usable in a certificate (RFC 1123 labels, a
 * leading `*.` wildcard allowed), or undefined when it is.
 */
export function dnsNameProblem(name: string): string | undefined {
  if (name.length === 0) return "it is empty";
  if (name.length > 253) return `it is ${name.length} characters long (253 at most)`;
  if (/\s/.test(name)) return "it contains white space";
  const labels = name.split(".");
  for (const [index, label] of labels.entries()) {
    if (index === 0 && label === "*" && labels.length > 1) continue;
    if (label.length === 0) return "it has an empty label (two dots in a row, or a leading or trailing dot)";
    if (label.length > 63) return `its label "${label.slice(0, 20)}…" is ${label.length} characters long (63 at most)`;
    if (label.includes("_")) return `its label "${label}" contains "_", which host names may not`;
    if (!LABEL.test(label)) return `its label "${label}" may hold only a-z, 0-9 and "-", and not begin or end with "-"`;
  }
  return undefined;
}

/**
 * net.isIP's answer (4, 6, or 0 for no address), without running Node's
 * IPv6 pattern on text with no colon: every IPv6 address has one, and no
 * IPv4 address or DNS name does. That pattern is compiled to machine code
 * in each process that runs it twice, ~8 ms, and a startup snapshot cannot
 * keep it (too large a code object), so every host name checked would pay
 * it in every run. kpki tells addresses apart with this alone.
 */
export const ipFamily = (text: string): 0 | 4 | 6 => (text.includes(":") ? (isIPv6(text) ? 6 : 0) : isIPv4(text) ? 4 : 0);

/**
 * Canonical text of an IP address: IPv6 in RFC 5952 form (compressed, lower
 * case), and an IPv4-mapped IPv6 address as the IPv4 address it maps, as Go
 * (kubeadm) reads one: net.IP's Equal and String make ::ffff:a.b.c.d and
 * a.b.c.d one address, and x509 writes it in 4 bytes (sanIpBytes).
 */
export function canonicalIp(ip: string): string {
  if (isIPv4(ip)) return ip;
  return ipFromBytes(sanIpBytes(ip));
}

/** An iPAddress SAN's bytes: 4 for IPv4 and IPv4-mapped IPv6 (Go's To4, as crypto/x509 marshals SANs), else 16. */
export function sanIpBytes(ip: string): Uint8Array {
  const bytes = ipToBytes(ip);
  return bytes.length === 16 && isV4Mapped(bytes) ? bytes.subarray(12) : bytes;
}

const isV4Mapped = (bytes: Uint8Array) => bytes.subarray(0, 10).every((byte) => byte === 0) && bytes[10] === 0xff && bytes[11] === 0xff;

/** Parses one SAN given as text: an IP address, or a DNS name (lower-cased). */
export function parseAltName(text: string, flag = "--san"): AltName {
  const value = text.trim();
  if (value.includes("%")) throw zoneError(text, flag);
  if (ipFamily(value)) return { type: "ip", value: canonicalIp(value) };
  if (/^[0-9.]+$/.test(value)) {
    throw inputError(`${flag} "${text}" is not a valid IPv4 address: each of the four parts must be 0-255`);
  }
  if (value.includes(":")) {
    throw inputError(`${flag} "${text}" is not a valid IP address (and a DNS name cannot contain ":")`);
  }
  const name = value.toLowerCase();
  const problem = dnsNameProblem(name);
  if (problem) throw inputError(`${flag} "${text}" is neither an IP address nor a valid DNS name: ${problem}`);
  return { type: "dns", value: name };
}

/** Parses an IP address flag, e.g. --master-ip. */
export function parseIp(text: string, flag: string): string {
  const value = text.trim();
  if (value.includes("%")) throw zoneError(text, flag);
  if (!ipFamily(value)) {
    throw inputError(`${flag} "${text}" is not a valid IPv4 or IPv6 address (e.g. 192.0.2.10 or 2001:db8::10)`);
  }
  return canonicalIp(value);
}

// A zone (fe80::1%eth0) names a local interface; certificates carry bare addresses.
const zoneError = (text: string, flag: string) =>
  inputError(`${flag} "${text}" has an IPv6 zone ("%…"), which a certificate cannot hold: give the address without it`);

/** Adds SANs to a list without duplicates, keeping first-seen order. */
export function addAltNames(into: AltNames, names: Iterable<AltName>): AltNames {
  for (const name of names) {
    const list = name.type === "dns" ? into.dns : into.ips;
    if (!list.includes(name.value)) list.push(name.value);
  }
  return into;
}

export function altNameList(names: AltNames): AltName[] {
  return [
    ...names.dns.map((value) => ({ type: "dns" as const, value })),
    ...names.ips.map((value) => ({ type: "ip" as const, value })),
  ];
}

/** SANs in `wanted` that `have` lacks. */
export function missingAltNames(have: AltNames, wanted: AltNames): AltName[] {
  const haveIps = new Set(have.ips.map(canonicalIp));
  return [
    ...wanted.dns.filter((name) => !have.dns.includes(name)).map((value) => ({ type: "dns" as const, value })),
    ...wanted.ips.filter((ip) => !haveIps.has(canonicalIp(ip))).map((value) => ({ type: "ip" as const, value })),
  ];
}

export const formatAltName = (name: AltName) => `${name.type === "dns" ? "DNS" : "IP"}:${name.value}`;

/** IP address text to its 4 or 16 bytes. */
export function ipToBytes(ip: string): Uint8Array {
  if (isIPv4(ip)) return Uint8Array.from(ip.split(".").map(Number));
  let text = ip;
  const embedded = text.match(/(\d+\.\d+\.\d+\.\d+)$/);
  if (embedded?.[1]) {
    const v4 = ipToBytes(embedded[1]);
    text = text.slice(0, -embedded[1].length) + `${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`;
  }
  const [head = "", tail] = text.split("::") as [string, string | undefined];
  const headGroups = head ? head.split(":") : [];
  const tailGroups = tail ? tail.split(":") : [];
  const zeros = tail === undefined ? 0 : 8 - headGroups.length - tailGroups.length;
  const groups = [...headGroups, ...Array<string>(zeros).fill("0"), ...tailGroups];
  const bytes = new Uint8Array(16);
  groups.forEach((group, index) => {
    const value = parseInt(group, 16);
    bytes[index * 2] = value >> 8;
    bytes[index * 2 + 1] = value & 0xff;
  });
  return bytes;
}

/** 4 or 16 bytes to IP text (IPv6 in RFC 5952 form). */
export function ipFromBytes(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join(".");
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  // The longest run of two or more zero groups becomes "::".
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength && j - i >= 2) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    return `::ffff:${Array.from(bytes.subarray(12)).join(".")}`;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart < 0) return hex.join(":");
  const left = hex.slice(0, bestStart).join(":");
  const right = hex.slice(bestStart + bestLength).join(":");
  return `${left}::${right}`;
}

/**
 * The first usable address of a CIDR: the API server's service IP for a
 * service subnet (kubeadm's GetAPIServerVirtualIP). Host bits are masked as
 * Go's net.ParseCIDR does.
 */
export function firstIpOfCidr(cidr: string, flag = "--service-cidr"): string {
  const match = cidr.trim().match(/^([^/]+)\/(\d{1,3})$/);
  const bad = () => inputError(`${flag} "${cidr}" is not a CIDR such as 10.96.0.0/12 or fd00:10:96::/112`);
  if (!match) throw bad();
  const address = match[1]!;
  const prefix = Number(match[2]);
  if (!ipFamily(address)) throw bad();
  const bytes = ipToBytes(address);
  const bits = bytes.length * 8;
  if (prefix > bits) throw inputError(`${flag} "${cidr}": the prefix length must be at most ${bits}`);
  if (prefix >= bits - 1) throw inputError(`${flag} "${cidr}" is too small to hold a service IP: use a shorter prefix`);
  for (let bit = prefix; bit < bits; bit++) bytes[bit >> 3]! &= ~(0x80 >> (bit & 7));
  bytes[bytes.length - 1]! |= 1;
  return ipFromBytes(bytes);
}
