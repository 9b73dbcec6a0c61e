import { homedir } from "node:os";
import { KpkiError } from "../../errors.js";
import type { AnsibleInventory, AnsibleVar } from "./ansibleinventory.js";
import { ansibleBoolean, shlexSplit } from "./ansiblesyntax.js";
import type { InventoryHost } from "./inventory.js";
import { ROLES, type Role } from "./steps.js";
import { resolveKubernetesVersion } from "./versions.js";

/**
 * kubespray's groups and the role each gives; a host in a control-plane
 * group and a worker group is a control plane (kubespray's own reading: it
 * runs workloads too). The dashed names are kubespray's older spellings.
 */
export const KUBESPRAY_ROLE_GROUPS: readonly { group: string; role: Role }[] = [
  { group: "kube_control_plane", role: "control-plane" },
  { group: "kube-master", role: "control-plane" },
  { group: "kube_master", role: "control-plane" },
  { group: "kube_node", role: "worker" },
  { group: "kube-node", role: "worker" },
];

/**
 * Ansible's connection variables and kpki's field for each; where several
 * names exist the later one wins, as in Ansible's ssh connection plugin.
 */
const CONNECTION_VARS = {
  address: ["ansible_host", "ansible_ssh_host"],
  port: ["ansible_port", "ansible_ssh_port"],
  user: ["ansible_user", "ansible_ssh_user"],
  identity: ["ansible_private_key_file", "ansible_ssh_private_key_file"],
  become: ["ansible_become"],
} as const;

/** ssh flags in ansible_ssh_common_args / ansible_ssh_extra_args and the -o option each is. */
const SSH_FLAGS: Record<string, (value: string) => string> = {
  "-o": (value) => value.replace(/^(\w+)\s+/, "$1="),
  "-J": (value) => `ProxyJump=${value}`,
};
const SSH_SWITCHES: Record<string, string> = { "-C": "Compression=yes", "-q": "LogLevel=QUIET", "-4": "AddressFamily=inet", "-6": "AddressFamily=inet6" };

const templated = (value: unknown) => typeof value === "string" && /\{\{|\{%/.test(value);

function last(vars: Map<string, AnsibleVar>, names: readonly string[]): (AnsibleVar & { name: string }) | undefined {
  let found: (AnsibleVar & { name: string }) | undefined;
  for (const name of names) {
    const variable = vars.get(name);
    if (variable !== undefined && variable.value !== null) found = { ...variable, name };
  }
  if (found && templated(found.value)) {
    throw new KpkiError("input", `${found.where}: ${found.name} is a Jinja template (${String(found.value)}): kpki reads inventories without templating; give the value itself`);
  }
  return found;
}

function sshArgsToOptions(variable: AnsibleVar & { name: string }): string[] {
  let tokens: string[];
  try {
    tokens = shlexSplit(String(variable.value));
  } catch (error) {
    throw new KpkiError("input", `${variable.where}: ${variable.name}: ${(error as Error).message}`);
  }
  const options: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    const flag = token.slice(0, 2);
    if (SSH_SWITCHES[token]) options.push(SSH_SWITCHES[token]);
    else if (SSH_FLAGS[flag]) {
      const value = token.length > 2 ? token.slice(2) : tokens[++i];
      if (value === undefined) throw new KpkiError("input", `${variable.where}: ${variable.name}: ${flag} needs a value`);
      options.push(SSH_FLAGS[flag](value));
    } else {
      throw new KpkiError("input", `${variable.where}: ${variable.name}: kpki passes ssh -o Key=Value, -J, -C, -q, -4 and -6 through; "${token}" is none of them (write it as -o Key=Value)`);
    }
  }
  for (const option of options) {
    if (/^StrictHostKeyChecking=(no|off)$/i.test(option)) {
      throw new KpkiError("input", `${variable.where}: ${variable.name} turns host-key checking off: kpki never does; remove it and use --accept-new-host-keys for fresh nodes`);
    }
  }
  return options;
}

/** The role a host's groups give it (kubespray's), or its kpki_role variable; undefined if neither. */
function roleOf(inventory: AnsibleInventory, host: string, vars: Map<string, AnsibleVar>): Role | undefined {
  const explicit = last(vars, ["kpki_role"]);
  if (explicit) {
    if (!(ROLES as readonly unknown[]).includes(explicit.value)) throw new KpkiError("input", `${explicit.where}: kpki_role must be control-plane or worker`);
    return explicit.value as Role;
  }
  const groups = inventory.groupsOf(host);
  const roles = KUBESPRAY_ROLE_GROUPS.filter(({ group }) => groups.has(group)).map(({ role }) => role);
  return roles.includes("control-plane") ? "control-plane" : roles[0];
}

/**
 * The hosts kpki works on, with their connection settings and roles. When
 * the inventory has kubespray's groups, the nodes are their hosts (an etcd-
 * only host, a bastion, calico_rr are not nodes); otherwise every host is.
 */
export function ansibleNodeHosts(inventory: AnsibleInventory, selected: readonly string[], checkAddress: (value: string, where: string) => string): InventoryHost[] {
  const kubespray = KUBESPRAY_ROLE_GROUPS.some(({ group }) => inventory.hostsOf(group).length > 0);
  const hosts: InventoryHost[] = [];
  for (const name of selected) {
    const entry = inventory.hosts.get(name)!;
    const vars = inventory.hostVars(name);
    const role = roleOf(inventory, name, vars);
    if (kubespray && !role) continue;
    const connection = last(vars, ["ansible_connection"]);
    if (connection && !["ssh", "smart", "paramiko"].includes(String(connection.value))) {
      throw new KpkiError("input", `${connection.where}: ${name} has ansible_connection=${String(connection.value)}: kpki reaches nodes over SSH only`);
    }
    const host: InventoryHost = { name, address: "", groups: [...inventory.groupsOf(name)].filter((group) => group !== "all") };
    const address = last(vars, CONNECTION_VARS.address);
    host.address = checkAddress(String(address?.value ?? name), address?.where ?? entry.where);
    const port = last(vars, CONNECTION_VARS.port);
    if (port) {
      const number = typeof port.value === "number" ? port.value : /^\d+$/.test(String(port.value).trim()) ? Number(port.value) : NaN;
      if (!Number.isInteger(number) || number < 1 || number > 65535) throw new KpkiError("input", `${port.where}: ${port.name} must be a port from 1 to 65535, not "${String(port.value)}"`);
      host.port = number;
    }
    const user = last(vars, CONNECTION_VARS.user);
    if (user) host.user = String(user.value);
    const identity = last(vars, CONNECTION_VARS.identity);
    if (identity) host.identity = String(identity.value).replace(/^~(?=$|\/)/, homedir());
    const become = last(vars, CONNECTION_VARS.become);
    if (become) {
      host.become = ansibleBoolean(become.value);
      if (host.become === undefined) throw new KpkiError("input", `${become.where}: ansible_become must be true or false (yes/no), not "${String(become.value)}"`);
      const method = last(vars, ["ansible_become_method"]);
      if (host.become && method && method.value !== "sudo") throw new KpkiError("input", `${method.where}: kpki becomes root with sudo -n only, not ${String(method.value)}`);
      const becomeUser = last(vars, ["ansible_become_user"]);
      if (host.become && becomeUser && becomeUser.value !== "root") throw new KpkiError("input", `${becomeUser.where}: node preparation runs as root; ansible_become_user is ${String(becomeUser.value)}`);
    }
    const sshOptions = (["ansible_ssh_common_args", "ansible_ssh_extra_args"] as const).flatMap((key) => {
      const variable = last(vars, [key]);
      return variable ? sshArgsToOptions(variable) : [];
    });
    if (sshOptions.length > 0) host.sshOptions = sshOptions;
    if (role) host.role = role;
    const version = last(vars, ["kube_version"]);
    if (version) {
      const text = String(version.value).replace(/^v/, "");
      try {
        resolveKubernetesVersion(text, "kube_version");
      } catch (error) {
        throw new KpkiError("input", `${version.where}: ${(error as Error).message}`);
      }
      host.kubernetesVersion = text;
    }
    hosts.push(host);
  }
  return hosts;
}
