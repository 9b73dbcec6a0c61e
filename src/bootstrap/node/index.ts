/** The node side: OpenSSH transport, inventories, the steps and the fleet runner, push-pki. */
export { SshSession, SshError, type SshHost, type SshSettings, type SshFailure } from "./ssh.js";
export { parseInventory, type InventoryHost } from "./inventory.js";
export {
  STEPS,
  ROLES,
  RUNTIMES,
  OS_FAMILIES,
  renderNodeScript,
  parseNodeOutput,
  type StepDefinition,
  type StepName,
  type StepState,
  type StepResult,
  type NodeScriptOptions,
  type Role,
  type Runtime,
  type OsFamily,
} from "./steps.js";
export { runFleet, type FleetHost, type HostReport } from "./fleet.js";
export { collectPkiFiles, pushPki, fetchFile, type PkiFile, type PushResult } from "./pushpki.js";
export { KUBERNETES_MINORS, NEWEST_MINOR, resolveKubernetesVersion, type KubernetesMinor, type KubernetesTarget } from "./versions.js";
export {
  KUBERNETES_PACKAGES,
  DEFAULT_PACKAGE_OPTIONS,
  packageSources,
  checkMirrorUrl,
  checkMirrorKey,
  type PackageOptions,
  type PackageSources,
} from "./packages.js";
