import type { TestHost, TestHosts } from "./testhosts/index.js";

/**
 * An Ansible INI inventory for test hosts, as an operator would write one:
 * a section per group, `name ansible_host=ADDRESS`, and the connection
 * settings in [all:vars].
 */
export function ansibleInventory(lab: TestHosts, groups: Record<string, readonly TestHost[]>, names: (host: TestHost) => string = (host) => host.name): string {
  return [
    ...Object.entries(groups).flatMap(([group, hosts]) => [`[${group}]`, ...hosts.map((host) => `${names(host)} ansible_host=${host.address}`)]),
    "[all:vars]",
    "ansible_user=root",
    `ansible_ssh_private_key_file=${lab.identityFile}`,
    `ansible_ssh_common_args='-o UserKnownHostsFile=${lab.knownHostsFile}'`,
    "",
  ].join("\n");
}
