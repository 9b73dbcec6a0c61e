import { isMap, isScalar, isSeq, LineCounter, type Node, type YAMLMap } from "yaml";
import { boundedToJs, parseBoundedYaml } from "../../inputbounds.js";
import { KpkiError, quoted } from "../../errors.js";
import { dnsNameProblem, ipFamily } from "../../pki/names.js";
import { ROLES, type Role } from "./steps.js";
import { resolveKubernetesVersion } from "./versions.js";

/** A host as an inventory file gives it; unset fields take the command line's values. */
export interface InventoryHost {
  name: string;
  address: string;
  port?: number;
  user?: string;
  identity?: string;
  role?: Role;
  sshOptions?: string[];
  /** The Kubernetes version to prepare this host for (as --kubernetes-version takes it). */
  kubernetesVersion?: string;
  /** Through sudo -n (an Ansible inventory's ansible_become); unset: the command line's --become. */
  become?: boolean;
  /** The Ansible groups the host is in, directly or through children. */
  groups?: string[];
}

const HOST_KEYS = ["name", "address", "port", "user", "identity", "role", "sshOptions", "kubernetesVersion"] as const;

/**
 * Reads an inventory (YAML): `hosts:` a list of addresses or mappings
 * (address, name, port, user, identity, role, sshOptions, kubernetesVersion), and optional
 * `defaults:` with the same keys. Every problem names the file and line.
 */
export function parseInventory(text: string, label: string): InventoryHost[] {
  const lines = new LineCounter();
  const document = parseBoundedYaml(text, label, { lineCounter: lines });
  const at = (node: Node | null | undefined) => `${label}:${node?.range ? lines.linePos(node.range[0]).line : 1}`;
  if (document.errors.length > 0) throw new KpkiError("input", `${label}:${document.errors[0]!.linePos?.[0]?.line ?? 1}: not valid YAML: ${document.errors[0]!.message.split("\n")[0]}`);
  const root = document.contents;
  if (!isMap(root)) throw new KpkiError("input", `${at(root)}: an inventory is a mapping with a hosts: list`);
  let defaults: Partial<InventoryHost> = {};
  let hostsNode: Node | undefined;
  for (const pair of root.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : "";
    if (key === "hosts") hostsNode = pair.value as Node;
    else if (key === "defaults") defaults = readHost(pair.value as Node, at, false);
    else throw new KpkiError("input", `${at(pair.key as Node)}: unknown key ${quoted(key)}: an inventory has hosts: and defaults:`);
  }
  if (!isSeq(hostsNode) || hostsNode.items.length === 0) throw new KpkiError("input", `${at(hostsNode ?? root)}: hosts: must be a list of at least one host`);
  const hosts = hostsNode.items.map((item) => {
    const host = isScalar(item) ? { address: checkAddress(String(item.value), at(item as Node)) } : readHost(item as Node, at, true);
    return { ...defaults, ...host, name: host.name ?? host.address! } as InventoryHost;
  });
  const seen = new Map<string, number>();
  hostsNode.items.forEach((item, index) => {
    const key = `${hosts[index]!.address}:${hosts[index]!.port ?? ""}`;
    if (seen.has(key)) throw new KpkiError("input", `${at(item as Node)}: ${hosts[index]!.address} is listed twice (also as host ${seen.get(key)! + 1})`);
    seen.set(key, index);
  });
  return hosts;
}

export function checkAddress(value: string, where: string): string {
  const address = value.trim();
  if (!ipFamily(address)) {
    const problem = dnsNameProblem(address.toLowerCase());
    if (problem || address.includes("*")) throw new KpkiError("input", `${where}: ${quoted(value)} is not a valid host name or IP address: ${problem ?? "no wildcards"}`);
  }
  return address;
}

function readHost(node: Node, at: (node: Node | null | undefined) => string, needAddress: boolean): Partial<InventoryHost> {
  if (!isMap(node)) throw new KpkiError("input", `${at(node)}: expected a mapping (address: …, port: …)`);
  const host: Partial<InventoryHost> = {};
  for (const pair of (node as YAMLMap).items) {
    const keyNode = pair.key as Node;
    const key = isScalar(keyNode) ? String(keyNode.value) : "";
    const value = pair.value as Node;
    const where = at(value ?? keyNode);
    const scalar = isScalar(value) ? value.value : undefined;
    switch (key as (typeof HOST_KEYS)[number]) {
      case "address":
        host.address = checkAddress(String(scalar ?? ""), where);
        break;
      case "name":
        if (typeof scalar !== "string" || !scalar) throw new KpkiError("input", `${where}: name must be a string`);
        host.name = scalar;
        break;
      case "port":
        if (typeof scalar !== "number" || !Number.isInteger(scalar) || scalar < 1 || scalar > 65535) throw new KpkiError("input", `${where}: port must be a number from 1 to 65535`);
        host.port = scalar;
        break;
      case "user":
      case "identity":
        if (typeof scalar !== "string" || !scalar) throw new KpkiError("input", `${where}: ${key} must be a string`);
        host[key as "user" | "identity"] = scalar;
        break;
      case "role":
        if (!(ROLES as readonly unknown[]).includes(scalar)) throw new KpkiError("input", `${where}: role must be one of ${ROLES.join(", ")}`);
        host.role = scalar as Role;
        break;
      case "kubernetesVersion": {
        // Unquoted, 1.30 is the number 1.3 to YAML: read what was written.
        const text = isScalar(value) && (typeof scalar === "number" || typeof scalar === "string") ? String(value.source ?? scalar) : undefined;
        if (typeof text !== "string" || !text) throw new KpkiError("input", `${where}: kubernetesVersion must be a version such as "1.33" or "1.33.2"`);
        try {
          resolveKubernetesVersion(text, "kubernetesVersion");
        } catch (error) {
          throw new KpkiError("input", `${where}: ${(error as Error).message}`);
        }
        host.kubernetesVersion = text;
        break;
      }
      case "sshOptions":
        if (!isSeq(value) || !value.items.every((item) => isScalar(item) && /^[A-Za-z]+=.+$/.test(String(item.value)))) {
          throw new KpkiError("input", `${where}: sshOptions must be a list of Key=Value`);
        }
        host.sshOptions = value.items.map((item) => String((item as { value: unknown }).value));
        break;
      default:
        throw new KpkiError("input", `${at(keyNode)}: unknown key ${quoted(key)}: a host has ${HOST_KEYS.join(", ")}`);
    }
  }
  if (needAddress && !host.address) throw new KpkiError("input", `${at(node)}: this host has no address`);
  return host;
}

export type InventoryFormat = "kpki" | "ansible-ini" | "ansible-yaml";

/**
 * kpki's own YAML (a `hosts:` list), Ansible's YAML (a mapping of groups) or
 * Ansible's INI (anything else): the shape of the text tells them apart.
 */
export function inventoryFormat(text: string, label = "the inventory"): InventoryFormat {
  // Too big or too deep is an input error whatever the format; anything else that is not YAML is INI.
  const document = parseBoundedYaml(text, label, { version: "1.1", uniqueKeys: false });
  if (document.errors.length > 0) return "ansible-ini";
  let root: unknown;
  try {
    root = boundedToJs(document, label);
  } catch {
    return "ansible-ini";
  }
  if (root === null || typeof root !== "object" || Array.isArray(root)) return "ansible-ini";
  const keys = Object.keys(root);
  const hosts = (root as Record<string, unknown>).hosts;
  return Array.isArray(hosts) && keys.every((key) => key === "hosts" || key === "defaults") ? "kpki" : "ansible-yaml";
}

/**
 * Any inventory kpki reads, narrowed by `limit` (Ansible's host patterns;
 * on kpki's own inventory the groups are the roles). `folder` is where an
 * Ansible inventory's group_vars/ and host_vars/ are (beside its file). Warnings are what
 * Ansible would warn about too: skipped keys, terms that matched nothing.
 */
export async function readInventory(text: string, label: string, options: { limit?: string; folder?: string } = {}): Promise<{ format: InventoryFormat; hosts: InventoryHost[]; warnings: string[] }> {
  const format = inventoryFormat(text, label);
  const { selectHosts } = await import("./ansiblepatterns.js");
  const warnings: string[] = [];
  const narrow = (patterns: import("./ansiblepatterns.js").PatternInventory): string[] => {
    if (options.limit === undefined) return [...patterns.hostNames];
    const { hosts, unmatched } = selectHosts(patterns, options.limit);
    for (const term of unmatched) warnings.push(`--limit: "${term}" matches no host in ${label}`);
    if (hosts.length === 0) throw new KpkiError("usage", `--limit "${options.limit}" matches no host in ${label}`);
    // As Ansible's --limit: it narrows the inventory, which keeps its order.
    const chosen = new Set(hosts);
    return patterns.hostNames.filter((host) => chosen.has(host));
  };
  if (format === "kpki") {
    const all = parseInventory(text, label);
    const names = all.map((host) => host.name);
    const chosen = new Set(
      narrow({ hostNames: names, groupNames: ["all", ...ROLES], hostsOfGroup: (group) => (group === "all" ? names : all.filter((host) => host.role === group).map((host) => host.name)) }),
    );
    return { format, hosts: all.filter((host) => chosen.has(host.name)), warnings };
  }
  const [{ parseAnsibleIni, parseAnsibleYaml }, { ansibleNodeHosts }] = await Promise.all([import("./ansibleinventory.js"), import("./ansiblenodes.js")]);
  const inventory = format === "ansible-ini" ? parseAnsibleIni(text, label) : parseAnsibleYaml(text, label);
  if (options.folder !== undefined) (await import("./ansiblevarsfolders.js")).loadVarsFolders(inventory, options.folder);
  warnings.push(...inventory.warnings);
  const hosts = ansibleNodeHosts(inventory, narrow(inventory.patternInventory()), checkAddress);
  if (hosts.length === 0) throw new KpkiError("input", `${label}: no hosts to work on${options.limit ? ` within --limit ${options.limit}` : ""} (kubespray's kube_control_plane and kube_node groups, or any host when it has neither)`);
  return { format, hosts, warnings };
}
