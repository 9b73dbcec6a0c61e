import { isMap, isScalar, LineCounter, type Node, type Pair } from "yaml";
import { parseBoundedYaml } from "../../inputbounds.js";
import { KpkiError } from "../../errors.js";
import type { PatternInventory } from "./ansiblepatterns.js";
import { expandHostRange, pythonLiteral, shlexSplit, splitHostPort } from "./ansiblesyntax.js";

/** A variable and where it was set (file:line), so a bad value can be pointed at. */
export interface AnsibleVar {
  value: unknown;
  where: string;
}

export interface AnsibleGroup {
  name: string;
  /** Hosts listed in the group itself, in order. */
  hosts: string[];
  children: string[];
  parents: string[];
  vars: Map<string, AnsibleVar>;
  /** Distance from `all` along the longest path: Ansible merges group vars by it. */
  depth: number;
}

export interface AnsibleHost {
  name: string;
  where: string;
  vars: Map<string, AnsibleVar>;
  /** Groups that list the host themselves. */
  groups: string[];
}

/**
 * An Ansible inventory as ansible-inventory builds it: groups with hosts,
 * children and vars, the implicit `all` and `ungrouped`, host vars. Both
 * plugins (INI and YAML) fill one of these; `hostVars` merges by Ansible's
 * precedence.
 */
export class AnsibleInventory {
  readonly groups = new Map<string, AnsibleGroup>();
  readonly hosts = new Map<string, AnsibleHost>();
  /** What Ansible would only warn about (a skipped key, say). */
  readonly warnings: string[] = [];
  /** Variables from the group_vars/ and host_vars/ folders beside the inventory (ansiblevarsfolders.ts). */
  readonly folderVars = { groups: new Map<string, Map<string, AnsibleVar>>(), hosts: new Map<string, Map<string, AnsibleVar>>() };

  constructor(readonly label: string) {
    this.addGroup("all");
    this.addGroup("ungrouped");
  }

  addGroup(name: string): AnsibleGroup {
    let group = this.groups.get(name);
    if (!group) {
      group = { name, hosts: [], children: [], parents: [], vars: new Map(), depth: 0 };
      this.groups.set(name, group);
    }
    return group;
  }

  /** As Ansible's add_host: a port counts only where the host is first seen. */
  addHost(name: string, groupName: string, port: number | undefined, where: string): AnsibleHost {
    let host = this.hosts.get(name);
    if (!host) {
      host = { name, where, vars: new Map(), groups: [] };
      if (port !== undefined) host.vars.set("ansible_port", { value: port, where });
      this.hosts.set(name, host);
    }
    const group = this.addGroup(groupName);
    if (!group.hosts.includes(name)) group.hosts.push(name);
    if (!host.groups.includes(groupName)) host.groups.push(groupName);
    return host;
  }

  addChild(parentName: string, childName: string, where: string): void {
    if (parentName === childName || this.descendants(childName).has(parentName)) {
      throw new KpkiError("input", `${where}: adding group "${childName}" as a child of "${parentName}" makes a loop`);
    }
    const parent = this.addGroup(parentName);
    const child = this.addGroup(childName);
    if (!parent.children.includes(childName)) parent.children.push(childName);
    if (!child.parents.includes(parentName)) child.parents.push(parentName);
  }

  /** Ansible's reconcile_inventory: top groups under `all`, group-less hosts in `ungrouped`, depths. */
  finish(): this {
    for (const group of this.groups.values()) {
      if (group.name !== "all" && group.parents.length === 0) this.addChild("all", group.name, this.label);
    }
    const ungrouped = this.groups.get("ungrouped")!;
    for (const host of this.hosts.values()) {
      const elsewhere = host.groups.some((name) => name !== "all" && name !== "ungrouped");
      if (!elsewhere && !ungrouped.hosts.includes(host.name)) {
        ungrouped.hosts.push(host.name);
        host.groups.push("ungrouped");
      } else if (elsewhere && host.groups.includes("ungrouped")) {
        ungrouped.hosts.splice(ungrouped.hosts.indexOf(host.name), 1);
        host.groups.splice(host.groups.indexOf("ungrouped"), 1);
      }
    }
    const deepen = (name: string, depth: number) => {
      const group = this.groups.get(name)!;
      if (depth < group.depth) return;
      group.depth = depth;
      for (const child of group.children) deepen(child, depth + 1);
    };
    deepen("all", 0);
    return this;
  }

  descendants(name: string): Set<string> {
    const found = new Set<string>();
    const walk = (group: string) => {
      for (const child of this.groups.get(group)?.children ?? []) {
        if (!found.has(child)) {
          found.add(child);
          walk(child);
        }
      }
    };
    walk(name);
    return found;
  }

  /** Every group the host is in, directly or through children, `all` included. */
  groupsOf(hostName: string): Set<string> {
    const found = new Set<string>(["all"]);
    const climb = (group: string) => {
      if (found.has(group) && group !== "all") return;
      found.add(group);
      for (const parent of this.groups.get(group)?.parents ?? []) climb(parent);
    };
    for (const group of this.hosts.get(hostName)?.groups ?? []) climb(group);
    return found;
  }

  /** The hosts of a group and of its children, as Ansible's get_hosts orders them: the group's own, then each generation of children. */
  hostsOf(groupName: string): string[] {
    const hosts: string[] = [];
    const seen = new Set<string>([groupName]);
    let generation = [groupName];
    while (generation.length > 0) {
      for (const name of generation) for (const host of this.groups.get(name)?.hosts ?? []) if (!hosts.includes(host)) hosts.push(host);
      generation = generation.flatMap((name) => this.groups.get(name)?.children ?? []).filter((name) => !seen.has(name) && seen.add(name));
    }
    return hosts;
  }

  /** For --limit. */
  patternInventory(): PatternInventory {
    return { hostNames: [...this.hosts.keys()], groupNames: [...this.groups.keys()], hostsOfGroup: (group) => this.hostsOf(group) };
  }

  /**
   * A host's variables by Ansible's precedence: group vars from the
   * shallowest group to the deepest (then by ansible_group_priority, then by
   * name), each overriding the last, then group_vars/ files in the same
   * order over all of those, then the host's own vars, then host_vars/.
   */
  hostVars(hostName: string): Map<string, AnsibleVar> {
    const groups = [...this.groupsOf(hostName)].map((name) => this.groups.get(name)!);
    const priority = (group: AnsibleGroup) => Number(group.vars.get("ansible_group_priority")?.value ?? 1);
    groups.sort((a, b) => a.depth - b.depth || priority(a) - priority(b) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const merged = new Map<string, AnsibleVar>();
    const layers = [
      ...groups.map((group) => group.vars),
      ...groups.map((group) => this.folderVars.groups.get(group.name)),
      this.hosts.get(hostName)!.vars,
      this.folderVars.hosts.get(hostName),
    ];
    for (const layer of layers) for (const [key, value] of layer ?? []) if (key !== "ansible_group_priority") merged.set(key, value);
    return merged;
  }
}

const SECTION = /^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$/;
const GROUP_NAME = /^([^:\]\s]+)\s*(?:#.*)?$/;

function hostPattern(text: string, where: string): { names: string[]; port?: number } {
  const { pattern, port } = splitHostPort(text);
  try {
    return { names: pattern.includes("[") ? expandHostRange(pattern) : [pattern], port };
  } catch (error) {
    throw new KpkiError("input", `${where}: ${(error as Error).message}`);
  }
}

/** Ansible's INI inventory plugin, rule for rule (sections, pending declarations, values). */
export function parseAnsibleIni(text: string, label: string): AnsibleInventory {
  const inventory = new AnsibleInventory(label);
  let groupName = "ungrouped";
  let state = "hosts";
  const pending = new Map<string, { where: string; state: string; parents: string[] }>();
  const resolvePending = (name: string) => {
    const declaration = pending.get(name)!;
    pending.delete(name);
    for (const parent of declaration.parents) {
      inventory.addChild(parent, name, declaration.where);
      if (pending.get(parent)?.state === "children") resolvePending(parent);
    }
  };
  text.split(/\r?\n/).forEach((raw, index) => {
    const where = `${label}:${index + 1}`;
    const line = raw.trim();
    if (!line || line.startsWith("#") || line.startsWith(";")) return;
    const section = line.match(SECTION);
    if (section) {
      groupName = section[1]!;
      state = section[2] ?? "hosts";
      if (!["hosts", "children", "vars"].includes(state)) throw new KpkiError("input", `${where}: section [${groupName}:${state}] has an unknown type: use [${groupName}], [${groupName}:children] or [${groupName}:vars]`);
      if (!inventory.groups.has(groupName)) {
        if (state === "vars" && !pending.has(groupName)) pending.set(groupName, { where, state, parents: [] });
        inventory.addGroup(groupName);
      }
      if (pending.has(groupName) && state !== "vars") {
        if (pending.get(groupName)!.state === "children") resolvePending(groupName);
        else pending.delete(groupName);
      }
      return;
    }
    if (line.startsWith("[") && line.endsWith("]")) throw new KpkiError("input", `${where}: "${line}" is not a valid section: no spaces or other characters in [group] or [group:children]`);
    if (state === "hosts") {
      let tokens: string[];
      try {
        tokens = shlexSplit(line);
      } catch (error) {
        throw new KpkiError("input", `${where}: cannot read the host line: ${(error as Error).message}`);
      }
      if (tokens.length === 0) return;
      const { names, port } = hostPattern(tokens[0]!, where);
      const vars = tokens.slice(1).map((token) => {
        const equals = token.indexOf("=");
        if (equals < 0) throw new KpkiError("input", `${where}: expected key=value after the host name, got "${token}"`);
        return [token.slice(0, equals), pythonLiteral(token.slice(equals + 1))] as const;
      });
      for (const name of names) {
        const host = inventory.addHost(name, groupName, port, where);
        for (const [key, value] of vars) host.vars.set(key, { value, where });
      }
    } else if (state === "vars") {
      const equals = line.indexOf("=");
      if (equals < 0) throw new KpkiError("input", `${where}: expected key=value in [${groupName}:vars], got "${line}"`);
      inventory.addGroup(groupName).vars.set(line.slice(0, equals).trim(), { value: pythonLiteral(line.slice(equals + 1).trim()), where });
    } else {
      const child = line.match(GROUP_NAME)?.[1];
      if (!child) throw new KpkiError("input", `${where}: expected a group name in [${groupName}:children], got "${line}"`);
      if (inventory.groups.has(child)) inventory.addChild(groupName, child, where);
      else if (pending.has(child)) pending.get(child)!.parents.push(groupName);
      else pending.set(child, { where, state: "children", parents: [groupName] });
    }
  });
  for (const [name, declaration] of pending) {
    if (declaration.state === "vars") throw new KpkiError("input", `${declaration.where}: [${name}:vars] is for a group that is never defined: add a [${name}] or [${name}:children] section`);
    throw new KpkiError("input", `${declaration.where}: [${declaration.parents.at(-1)}:children] names "${name}", a group that is never defined: add a [${name}] section (it may be empty)`);
  }
  return inventory.finish();
}

/** Ansible's YAML inventory plugin: groups at the top, each with hosts:, vars:, children:. */
export function parseAnsibleYaml(text: string, label: string): AnsibleInventory {
  const lines = new LineCounter();
  // Ansible reads YAML 1.1 (PyYAML): yes/no/on/off are booleans there.
  const document = parseBoundedYaml(text, label, { lineCounter: lines, version: "1.1", uniqueKeys: false });
  const at = (node: Node | null | undefined) => `${label}:${node?.range ? lines.linePos(node.range[0]).line : 1}`;
  if (document.errors.length > 0) throw new KpkiError("input", `${label}:${document.errors[0]!.linePos?.[0]?.line ?? 1}: not valid YAML: ${document.errors[0]!.message.split("\n")[0]}`);
  const root = document.contents;
  if (!isMap(root) || root.items.length === 0) throw new KpkiError("input", `${at(root)}: an Ansible YAML inventory is a mapping of groups (all:, with hosts:, children:, vars:)`);
  const inventory = new AnsibleInventory(label);
  const keyOf = (pair: Pair) => String(isScalar(pair.key) ? pair.key.value : pair.key);
  // A string where a mapping goes (hosts: node1) is one key, as Ansible reads it.
  const entries = (node: unknown): { key: string; value: Node | null; where: string }[] => {
    if (node === null || node === undefined || (isScalar(node) && node.value === null)) return [];
    if (isScalar(node) && typeof node.value === "string") return [{ key: node.value, value: null, where: at(node) }];
    if (!isMap(node)) return [];
    return node.items.map((pair) => ({ key: keyOf(pair), value: (pair.value ?? null) as Node | null, where: at(pair.key as Node) }));
  };
  const isNull = (node: Node | null) => node === null || (isScalar(node) && node.value === null);
  const parseGroup = (name: string, node: Node | null, where: string): boolean => {
    if (!isNull(node) && !isMap(node)) {
      inventory.warnings.push(`${where}: skipping "${name}": not a group definition (a group is a mapping)`);
      return false;
    }
    inventory.addGroup(name);
    if (isNull(node)) return true;
    for (const pair of (node as { items: Pair[] }).items) {
      const key = keyOf(pair);
      const value = (pair.value ?? null) as Node | null;
      const keyWhere = at(pair.key as Node);
      const section = ["vars", "children", "hosts"].includes(key);
      if (!isNull(value) && !isMap(value) && !(section && isScalar(value) && typeof value.value === "string")) {
        if (section) throw new KpkiError("input", `${keyWhere}: "${key}" of group "${name}" must be a mapping (name: …), not a list or a value`);
        inventory.warnings.push(`${keyWhere}: skipping key "${key}" in group "${name}": it is not a mapping`);
        continue;
      }
      if (key === "vars") {
        for (const entry of entries(value)) inventory.addGroup(name).vars.set(entry.key, { value: entry.value === null ? null : entry.value.toJSON(), where: entry.where });
      } else if (key === "children") {
        for (const entry of entries(value)) if (parseGroup(entry.key, entry.value, entry.where)) inventory.addChild(name, entry.key, entry.where);
      } else if (key === "hosts") {
        for (const entry of entries(value)) {
          const { names, port } = hostPattern(entry.key, entry.where);
          if (!isNull(entry.value) && !isMap(entry.value)) throw new KpkiError("input", `${entry.where}: the variables of host "${entry.key}" must be a mapping (ansible_host: …)`);
          for (const hostName of names) {
            const host = inventory.addHost(hostName, name, port, entry.where);
            for (const variable of entries(entry.value)) host.vars.set(variable.key, { value: variable.value === null ? null : variable.value.toJSON(), where: variable.where });
          }
        }
      } else if (!isNull(value)) {
        inventory.warnings.push(`${keyWhere}: skipping key "${key}" in group "${name}": only hosts, children and vars are valid`);
      }
    }
    return true;
  };
  if (root.items.some((pair) => keyOf(pair) === "plugin")) throw new KpkiError("input", `${label}: this is an inventory plugin's configuration, not an inventory: give kpki the output of ansible-inventory --list -y instead`);
  for (const pair of root.items) parseGroup(keyOf(pair), (pair.value ?? null) as Node | null, at(pair.key as Node));
  return inventory.finish();
}
