import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAnsibleIni, parseAnsibleYaml, type AnsibleInventory } from "../../src/bootstrap/node/ansibleinventory.js";
import { selectHosts } from "../../src/bootstrap/node/ansiblepatterns.js";
import { loadVarsFolders } from "../../src/bootstrap/node/ansiblevarsfolders.js";
import { inventoryFormat, readInventory } from "../../src/bootstrap/node/inventory.js";
import { KpkiError } from "../../src/errors.js";
import { havePeer } from "../support/peers.js";

const CORPUS = path.join(import.meta.dirname, "ansible-inventories");
const files = readdirSync(CORPUS).filter((file) => /\.(ini|yml)$/.test(file)).sort();
const FOLDERS = path.join(import.meta.dirname, "ansible-vars-folders");
const good = files.filter((file) => !file.startsWith("bad-"));
const bad = files.filter((file) => file.startsWith("bad-"));
const available = await havePeer("ansible-inventory", "apt-get install ansible-core (scripts/install-peers)");

let home: string;
/** Real Ansible with nothing from this machine's config: no ansible.cfg, a private home, parse failures fatal. */
const ansible = (program: string, args: string[], file: string) =>
  execa(program, args, {
    reject: false,
    cwd: CORPUS,
    env: {
      HOME: home,
      ANSIBLE_HOME: home,
      ANSIBLE_LOCAL_TEMP: home,
      ANSIBLE_CONFIG: path.join(home, "ansible.cfg"),
      ANSIBLE_INVENTORY_UNPARSED_FAILED: "true",
      ANSIBLE_INVENTORY_ENABLED: file.endsWith(".ini") ? "ini" : "yaml",
      ANSIBLE_NOCOLOR: "1",
    },
  });

interface ListedHost {
  vars: Record<string, unknown>;
  groups: string[];
}

/** ansible-inventory --list's JSON as host → merged vars and every group it is in (children followed). */
function fromAnsible(listed: Record<string, unknown>): Record<string, ListedHost> {
  const { _meta: meta, ...groupBodies } = listed as { _meta: { hostvars: Record<string, Record<string, unknown>> } };
  const list = groupBodies as Record<string, { hosts?: string[]; children?: string[] }>;
  const parents = new Map<string, string[]>();
  for (const [group, body] of Object.entries(list)) for (const child of body.children ?? []) parents.set(child, [...(parents.get(child) ?? []), group]);
  const result: Record<string, ListedHost> = {};
  const hostNames = new Set([...Object.keys(meta.hostvars), ...Object.values(list).flatMap((body) => body.hosts ?? [])]);
  for (const host of hostNames) {
    const groups = new Set<string>();
    const climb = (group: string) => {
      if (groups.has(group)) return;
      groups.add(group);
      for (const parent of parents.get(group) ?? []) climb(parent);
    };
    for (const [group, body] of Object.entries(list)) if (body.hosts?.includes(host)) climb(group);
    groups.delete("all");
    result[host] = { vars: meta.hostvars[host] ?? {}, groups: [...groups].sort() };
  }
  return result;
}

function fromKpki(inventory: AnsibleInventory): Record<string, ListedHost> {
  const result: Record<string, ListedHost> = {};
  for (const name of inventory.hosts.keys()) {
    const vars = Object.fromEntries([...inventory.hostVars(name)].map(([key, variable]) => [key, variable.value]));
    result[name] = { vars, groups: [...inventory.groupsOf(name)].filter((group) => group !== "all").sort() };
  }
  return result;
}

const parse = (file: string) => {
  const text = readFileSync(path.join(CORPUS, file), "utf8");
  return file.endsWith(".ini") ? parseAnsibleIni(text, file) : parseAnsibleYaml(text, file);
};

describe.runIf(available)("Ansible inventories, read as the real ansible-inventory reads them", () => {
  beforeAll(() => {
    home = mkdtempSync(path.join(tmpdir(), "kpki-ansible-"));
    writeFileSync(path.join(home, "ansible.cfg"), "[defaults]\n");
  });
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  it.each(good)("%s: the same hosts, variables (by Ansible's precedence) and groups as ansible-inventory --list", async (file) => {
    const listed = await ansible("ansible-inventory", ["-i", file, "--list"], file);
    expect(listed.exitCode, listed.stderr).toBe(0);
    expect(fromKpki(parse(file))).toEqual(fromAnsible(JSON.parse(listed.stdout)));
  });

  it.each(bad)("%s: refused by Ansible and by kpki, kpki naming the file and line", async (file) => {
    const listed = await ansible("ansible-inventory", ["-i", file, "--list"], file);
    expect(listed.exitCode).not.toBe(0);
    let error: unknown;
    try {
      parse(file);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(KpkiError);
    expect((error as KpkiError).kind).toBe("input");
    const line = (error as Error).message.match(new RegExp(`^${file.replace(/\./g, "\\.")}:(\\d+): `))?.[1];
    expect(line, (error as Error).message).toBeDefined();
    // Where Ansible names a line, it is the same one.
    const ansibleLine = listed.stderr.match(new RegExp(`${file.replace(/\./g, "\\.")}:(\\d+):`))?.[1];
    if (ansibleLine) expect(line).toBe(ansibleLine);
  });

  it("reads group_vars/ and host_vars/ beside the inventory with Ansible's precedence (kubespray's layout)", async () => {
    const listed = await execa("ansible-inventory", ["-i", "inventory.ini", "--list"], { reject: false, cwd: FOLDERS, env: { HOME: home, ANSIBLE_HOME: home, ANSIBLE_LOCAL_TEMP: home, ANSIBLE_CONFIG: path.join(home, "ansible.cfg"), ANSIBLE_INVENTORY_UNPARSED_FAILED: "true" } });
    expect(listed.exitCode, listed.stderr).toBe(0);
    const inventory = parseAnsibleIni(readFileSync(path.join(FOLDERS, "inventory.ini"), "utf8"), "inventory.ini");
    loadVarsFolders(inventory, FOLDERS);
    expect(fromKpki(inventory)).toEqual(fromAnsible(JSON.parse(listed.stdout)));
  });

  const limits: [string, string][] = [
    ["kubespray-sample.ini", "kube_node"],
    ["kubespray-sample.ini", "kube_node:!node3"],
    ["kubespray-sample.ini", "k8s_cluster:&etcd"],
    ["kubespray-sample.ini", "node1,node5"],
    ["kubespray-sample.ini", "node[2:4]"],
    ["kubespray-sample.ini", "kube_node[1:2]"],
    ["kubespray-sample.ini", "kube_node[0]"],
    ["kubespray-sample.ini", "kube_node[-1]"],
    ["kubespray-sample.ini", "~node[15]"],
    ["kubespray-sample.ini", "node*:!kube_control_plane"],
    ["kubespray-sample.ini", "!etcd"],
    ["kubespray-legacy.ini", "kube-*"],
    ["ranges.ini", "web0?.example.com"],
    ["ranges.ini", "web:&dc1:!web02.example.com"],
    ["ranges.ini", "10.20.0.*"],
    ["nested.yml", "region_a"],
    ["nested.yml", "rack*,n5"],
    ["nested.yml", "all:!rack2"],
    ["nested.yml", "fe80::10"],
  ];
  it.each(limits)("%s --limit %s selects the hosts Ansible's pattern does, in its order", async (file, pattern) => {
    const listed = await ansible("ansible", ["-i", file, pattern, "--list-hosts"], file);
    expect(listed.exitCode, listed.stderr).toBe(0);
    const ansibleHosts = listed.stdout.split("\n").slice(1).map((line) => line.trim()).filter(Boolean);
    expect(selectHosts(parse(file).patternInventory(), pattern).hosts).toEqual(ansibleHosts);
  });
});

describe("Ansible inventories, as kpki's nodes", () => {
  const read = (file: string, limit?: string) => readInventory(readFileSync(path.join(CORPUS, file), "utf8"), file, { limit });

  it("tells kpki's own YAML, Ansible's YAML and Ansible's INI apart", () => {
    expect(inventoryFormat("hosts:\n  - 169.254.1.1\ndefaults:\n  user: root\n")).toBe("kpki");
    expect(inventoryFormat(readFileSync(path.join(CORPUS, "kubespray-sample.yml"), "utf8"))).toBe("ansible-yaml");
    expect(inventoryFormat(readFileSync(path.join(CORPUS, "kubespray-sample.ini"), "utf8"))).toBe("ansible-ini");
    expect(inventoryFormat("node1\nnode2 ansible_host=169.254.1.2\n")).toBe("ansible-ini");
  });

  it("maps kubespray's groups to roles: kube_control_plane, kube_node, both → control-plane; etcd-only and bastion hosts are not nodes", async () => {
    const { hosts } = await read("kubespray-sample.ini");
    expect(hosts.map((host) => [host.name, host.role])).toEqual([
      ["node1", "control-plane"],
      ["node2", "control-plane"],
      ["node3", "control-plane"],
      ["node4", "worker"],
      ["node5", "worker"],
      ["node6", "worker"],
    ]);
    expect(hosts[0]).toMatchObject({ address: "95.54.0.12", user: "ubuntu", become: true });
    expect(hosts[0]!.identity).toMatch(/^\/.*\/\.ssh\/kubespray$/);
    const legacy = await read("kubespray-legacy.ini");
    expect(legacy.hosts.map((host) => [host.name, host.role])).toEqual([
      ["node1", "control-plane"],
      ["node2", "control-plane"],
      ["node3", "worker"],
      ["node4", "worker"],
    ]);
  });

  it("carries ports, users, become and ssh arguments from every level", async () => {
    const { hosts } = await read("nested.yml", "n4,n5,n6,n3");
    expect(hosts.map(({ name, address, port, user, become, role, sshOptions }) => ({ name, address, port, user, become, role, sshOptions }))).toEqual([
      { name: "n3", address: "n3", port: 2202, user: "root", become: false, role: "worker", sshOptions: undefined },
      { name: "n4", address: "169.254.10.4", port: 2204, user: "root", become: false, role: "worker", sshOptions: undefined },
      { name: "n5", address: "169.254.10.5", port: undefined, user: "root", become: false, role: "worker", sshOptions: ["Compression=yes", "ConnectTimeout=5"] },
      { name: "n6", address: "n6", port: 2206, user: "root", become: false, role: "worker", sshOptions: undefined },
    ]);
    const ranges = await read("ranges.ini", "web01.example.com");
    expect(ranges.hosts[0]!.sshOptions).toEqual(["ProxyJump=jump.example.com", "ServerAliveInterval=30"]);
  });

  it.each([
    ["[kube_node]\nnode1 ansible_port=70000\n", /^x\.ini:2: ansible_port must be a port/],
    ["[kube_node]\nnode1\n[all:vars]\nansible_ssh_common_args='-o StrictHostKeyChecking=no'\n", /^x\.ini:4: .*host-key checking off/],
    ["[kube_node]\nnode1 ansible_host='{{ lookup(\"env\", \"IP\") }}'\n", /^x\.ini:2: ansible_host is a Jinja template/],
    ["[kube_node]\nnode1 ansible_ssh_common_args='-F /tmp/cfg'\n", /^x\.ini:2: .*"-F" is none of them/],
    ["[kube_node]\nnode1 ansible_connection=local\n", /^x\.ini:2: node1 has ansible_connection=local/],
    ["[kube_node]\nnode1 kube_version=v1.12.0\n", /^x\.ini:2: /],
    ["[kube_node]\nnode1 ansible_host=not_a_host!\n", /^x\.ini:2: "not_a_host!" is not a valid host name/],
  ])("refuses %j naming the line", async (text, message) => {
    await expect(readInventory(text, "x.ini")).rejects.toThrow(message);
  });

  it("the kubespray sample that wrote hosts: as a block is read as Ansible reads it, then refused naming the line", async () => {
    expect([...parse("kubespray-broken-hosts.yml").hosts.keys()]).toEqual(["node1 node2 node3"]);
    await expect(read("kubespray-broken-hosts.yml")).rejects.toThrow(/^kubespray-broken-hosts\.yml:6: "node1 node2 node3" is not a valid host name/);
  });

  it("--limit that matches nothing is an error; a term that matches nothing is a warning", async () => {
    await expect(read("kubespray-sample.ini", "nosuch")).rejects.toThrow(/--limit "nosuch" matches no host/);
    const { hosts, warnings } = await read("kubespray-sample.ini", "node1,nosuch");
    expect(hosts.map((host) => host.name)).toEqual(["node1"]);
    expect(warnings).toEqual(['--limit: "nosuch" matches no host in kubespray-sample.ini']);
  });

  it("takes kube_version and connection settings from group_vars/ and host_vars/", async () => {
    const { hosts } = await readInventory(readFileSync(path.join(FOLDERS, "inventory.ini"), "utf8"), "inventory.ini", { folder: FOLDERS });
    expect(hosts.map(({ name, port, user, become, kubernetesVersion, role }) => ({ name, port, user, become, kubernetesVersion, role }))).toEqual([
      { name: "node1", port: undefined, user: "admin", become: true, kubernetesVersion: "1.33.2", role: "control-plane" },
      { name: "node2", port: 2300, user: "inline", become: true, kubernetesVersion: "1.33.2", role: "worker" },
      { name: "node3", port: 2222, user: "node3user", become: true, kubernetesVersion: "1.33.2", role: "worker" },
    ]);
  });

  it("--limit on kpki's own inventory matches names and roles", async () => {
    const text = "hosts:\n  - {address: 169.254.1.1, name: a, role: control-plane}\n  - {address: 169.254.1.2, name: b}\n  - {address: 169.254.1.3, name: c}\n";
    expect((await readInventory(text, "k.yaml", { limit: "control-plane,c" })).hosts.map((host) => host.name)).toEqual(["a", "c"]);
  });
});
