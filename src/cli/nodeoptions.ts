import { OS_FAMILIES, RUNTIMES, type Runtime } from "../bootstrap/node/steps.js";
import { NEWEST_MINOR } from "../bootstrap/node/versions.js";

/** What the node script is rendered for: the options node check/prep and node cloud-init share. */
export const nodeScriptOptions = {
  runtime: { choices: RUNTIMES, default: "auto" as Runtime, describe: "container runtime to enable [auto: whichever is installed]" },
  ipv6: { type: "boolean", default: false, describe: "also net.ipv6.conf.all.forwarding=1" },
  firewall: { type: "boolean", default: true, describe: "open the role's ports in a running firewalld (--no-firewall: leave it, report it)" },
  "os-family": { choices: OS_FAMILIES, describe: "treat an unknown distribution as this family" },
  "kubernetes-version": { type: "string", describe: `the Kubernetes version to prepare for: 1.33 (newest patch) or 1.33.2 [the newest minor kpki knows, ${NEWEST_MINOR}]` },
} as const;
