import type { Argv } from "yargs";
import { ROLES } from "../../bootstrap/node/steps.js";
import { resolveKubernetesVersion } from "../../bootstrap/node/versions.js";
import { KpkiError } from "../../errors.js";
import type { Io } from "../io.js";
import { nodeScriptOptions, packageOptions, type NodeScriptArgs } from "../nodeoptions.js";

export const PROVISION_FORMATS = ["cloud-config", "script"] as const;

interface ProvisionArgs extends NodeScriptArgs {
  format: (typeof PROVISION_FORMATS)[number];
  gzip: boolean;
}

/** `kpki node cloud-init`: node prep as user-data, for fleets a provisioning engine prepares. */
export const cloudInitOptions = (command: Argv) =>
  command
    .option("role", { choices: ROLES, demandOption: "give --role worker or --role control-plane", describe: "the node's role" })
    .options(nodeScriptOptions)
    .option("format", { choices: PROVISION_FORMATS, default: "cloud-config" as const, describe: "cloud-config: #cloud-config user-data; script: the plain shell script (Ignition, PXE post-install, any engine)" })
    .option("gzip", { type: "boolean", default: true, describe: "gzip the user-data, as cloud-init reads it, to stay under EC2's 16 KiB (--no-gzip: the #cloud-config text, ~17 KB)" })
    .example("$0 node cloud-init --role worker --kubernetes-version 1.33 > user-data", "user-data for a fleet's workers (gzipped: aws ec2 run-instances --user-data fileb://user-data)")
    .example("$0 node cloud-init --role worker --no-gzip | less", "the same as #cloud-config text, to read")
    .example("$0 node cloud-init --role worker --package-mirror http://mirror.example/k8s --package-mirror-key mirror.asc", "an air-gapped site's")
    .example("$0 node cloud-init --role control-plane --format script > node-prep.sh", "the plain script, for any provisioning engine");

export async function printCloudInit(io: Io, args: ProvisionArgs): Promise<void> {
  const { renderCloudConfig, renderProvisionScript } = await import("../../bootstrap/node/provision.js");
  const options = { role: args.role, runtime: args.runtime, ipv6: args.ipv6, firewall: args.firewall, osFamily: args.osFamily, kubernetes: resolveKubernetesVersion(args.kubernetesVersion), packages: await packageOptions(io, args) };
  if (args.format === "script") return io.stdout(renderProvisionScript(options));
  // As gzip(1) does, compressed bytes never go to a terminal.
  if (args.gzip && io.isTTY) throw new KpkiError("usage", "the user-data is gzip-compressed and standard output is a terminal: redirect it to a file (> user-data), or give --no-gzip to read it");
  const { userData, warnings } = renderCloudConfig(options, { gzip: args.gzip });
  for (const warning of warnings) io.stderr(`warning: ${warning}\n`);
  io.stdout(userData);
}
