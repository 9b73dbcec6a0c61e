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
export { runFleet, DEFAULT_PREFLIGHT, type FleetHost, type HostReport, type PreflightSettings } from "./fleet.js";
export {
  readClusterFiles,
  planPush,
  pushFiles,
  discoveryKubeconfig,
  fetchFile,
  SHARED_PKI_FILES,
  KUBECONFIGS_BY_ROLE,
  type LocalClusterFiles,
  type PushFile,
  type PushPlanOptions,
  type PushResult,
} from "./pushpki.js";
export {
  preflightChecks,
  evaluatePreflight,
  parseIgnorePreflightErrors,
  knownCheckNames,
  type PreflightContext,
  type CheckResult,
  type Severity,
  type IgnoreSet,
} from "./preflight.js";
export { fleetChecks, clockSkew, MAX_CLOCK_SKEW_SECONDS, FLEET_CHECK_NAMES, type FleetHostFacts } from "./fleetchecks.js";
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
