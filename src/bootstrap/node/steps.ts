import { loadTemplate, renderTemplate } from "../../templates.js";
import { DEFAULT_PACKAGE_OPTIONS, packageSources, type PackageOptions } from "./packages.js";
import type { KubernetesTarget } from "./versions.js";
import { KERNEL_CONFIG_NAMES } from "./preflight.js";

/** kubeadm's three kinds of node: the first control plane (init), a joining control plane, a worker (join). */
export const ROLES = ["control-plane-init", "control-plane", "worker"] as const;
export type Role = (typeof ROLES)[number];
export const RUNTIMES = ["auto", "containerd", "docker"] as const;
export type Runtime = (typeof RUNTIMES)[number];
export const OS_FAMILIES = ["rhel", "debian"] as const;
export type OsFamily = (typeof OS_FAMILIES)[number];

export interface StepDefinition {
  /** The report's name for it, and its script: templates/node/NAME.sh defines step_NAME. */
  name: string;
  description: string;
  /** The families it runs on (the os step tells the host's). */
  families: readonly OsFamily[];
  /** Only looks: never changes the host, in any mode. */
  readOnly?: boolean;
}

/**
 * The node-preparation steps, in the order a host runs them. Each is
 * Ansible-like: it reports ok, would-change (check mode), changed or failed,
 * and running it twice changes nothing the second time. Adding a step is a
 * row here and a templates/node/NAME.sh.
 */
export const STEPS = [
  { name: "os", description: "distribution from /etc/os-release: RHEL or Debian family", families: ["rhel", "debian"], readOnly: true },
  { name: "swap", description: "swap off now and at boot: swapoff -a, fstab lines commented (backup kept), swap units masked, zram-generator off", families: ["rhel", "debian"] },
  { name: "modules", description: "overlay and br_netfilter loaded now and listed in /etc/modules-load.d", families: ["rhel", "debian"] },
  { name: "sysctl", description: "net.ipv4.ip_forward=1 and bridge-nf-call-iptables/ip6tables=1 now and in /etc/sysctl.d", families: ["rhel", "debian"] },
  { name: "selinux", description: "SELinux permissive now (setenforce 0) and in /etc/selinux/config", families: ["rhel"] },
  { name: "firewall", description: "firewalld, when running, opens the role's ports (or --no-firewall reports them)", families: ["rhel"] },
  { name: "packages", description: "the Kubernetes repository of the target minor (with its key), kubelet kubeadm kubectl cri-tools at the target version and held, containerd (RHEL: containerd.io from Docker's repository)", families: ["rhel", "debian"] },
  { name: "containerd", description: "/etc/containerd/config.toml: CRI on, SystemdCgroup = true, kubeadm's sandbox image; checked with containerd config dump, backup kept, restart only on change", families: ["rhel", "debian"] },
  { name: "runtime", description: "the container runtime enabled, started and answering crictl info on its CRI socket; /etc/crictl.yaml; --runtime docker needs cri-dockerd", families: ["rhel", "debian"] },
  { name: "kubelet", description: "kubelet installed and enabled, not started (kubeadm init/join starts it); its version is the preflight's KubeletVersion", families: ["rhel", "debian"] },
  { name: "preflight", description: "kubeadm's preflight for the role (init or join), check by check, and kpki's own checks: read-only facts judged in src/bootstrap/node/preflight.ts", families: ["rhel", "debian"], readOnly: true },
] as const satisfies readonly StepDefinition[];

export type StepName = (typeof STEPS)[number]["name"];

export type StepState = "ok" | "changed" | "would-change" | "failed" | "warn" | "info";
const STEP_STATES = new Set<string>(["ok", "changed", "would-change", "failed", "warn", "info"] satisfies StepState[]);

export interface StepResult {
  step: string;
  state: StepState;
  detail: string;
}

export interface NodeScriptOptions {
  /** argument: the script's first argument says (check or apply), for an engine that runs it twice (node cloud-init). */
  mode: "check" | "apply" | "argument";
  role: Role;
  runtime: Runtime;
  osFamily?: OsFamily;
  firewall: boolean;
  ipv6: boolean;
  /** What the packages, the repository and the sandbox image are chosen for. */
  kubernetes: KubernetesTarget;
  /** Where packages come from and whether to install them (default: install from upstream, no version changes). */
  packages?: PackageOptions;
  /** kubeadm's --cri-socket (unix:///…); without it the only socket there, as kubeadm picks. */
  criSocket?: string;
}

const ALL_FAMILIES = OS_FAMILIES.length;

/**
 * The one script a host runs: lib.sh, every step's file, and a driver in the
 * table's order; `without` leaves steps out (the provisioning script drops the
 * preflight's facts, which only kpki's TypeScript judges).
 */
export function renderNodeScript(options: NodeScriptOptions, { without = [] }: { without?: readonly StepName[] } = {}): string {
  const trim = (text: string) => text.replace(/\n+$/, "");
  const packages = options.packages ?? DEFAULT_PACKAGE_OPTIONS;
  const sources = packageSources(options.kubernetes, packages.mirror);
  const values = {
    mode: options.mode === "argument" ? '"$1"' : options.mode,
    // The steps know two kinds of host; init and join differ only in the preflight's checks.
    role: options.role === "worker" ? "worker" : "control-plane",
    runtime: options.runtime,
    os_family: options.osFamily ?? "",
    firewall: options.firewall ? "yes" : "no",
    k8s_minor: options.kubernetes.minor,
    k8s_patch: options.kubernetes.patch ?? "",
    pause_image: options.kubernetes.pauseImage,
    pkg_install: packages.install ? "yes" : "no",
    pkg_upgrade: packages.upgrade ? "yes" : "no",
    k8s_deb_url: sources.kubernetesDeb.url,
    k8s_deb_key: sources.kubernetesDeb.key,
    k8s_rpm_url: sources.kubernetesRpm.url,
    k8s_rpm_key: sources.kubernetesRpm.key,
    docker_rpm_url: sources.dockerRpm.url,
    docker_rpm_key: sources.dockerRpm.key,
    mirror_key: packages.mirrorKey ?? "",
    k8s_defaulted: options.kubernetes.defaulted ? "yes" : "no",
    cri_socket: options.criSocket ?? "",
    kernel_config_names: KERNEL_CONFIG_NAMES.join("|"),
    sysctl_file: trim(renderTemplate(loadTemplate("node/sysctl-kubernetes.conf"), { ipv6: options.ipv6 ? "yes" : "" })),
    modules_file: trim(loadTemplate("node/modules-kubernetes.conf")),
  };
  const render = (file: string) => trim(renderTemplate(loadTemplate(`node/${file}`), values));
  // The os step sets FAMILY. On a distribution it does not know, every step still
  // looks (check mode), but only the read-only ones run when applying.
  const steps = STEPS.filter(({ name }) => !without.includes(name));
  const driver = steps.map(({ name, families, readOnly }: StepDefinition) => {
    if (name === "os") return "step_os || FAMILY=unknown";
    const guard = readOnly ? "" : '[ "$FAMILY" != unknown ] || [ "$MODE" = check ]; then ';
    if (families.length === ALL_FAMILIES) return guard ? `if ${guard}step_${name}; fi` : `step_${name}`;
    return `case "$FAMILY" in ${families.join("|")}) step_${name} ;; esac`;
  });
  const sections = [render("lib.sh"), ...steps.map(({ name }) => render(`${name}.sh`)), ["# The steps, in order.", ...driver, "exit 0"].join("\n")];
  return `${sections.join("\n\n")}\n`;
}

/** The script's report lines; anything else it printed is kept as `noise` for errors. */
export function parseNodeOutput(stdout: string): { steps: StepResult[]; facts: Record<string, string>; noise: string[] } {
  const steps: StepResult[] = [];
  // No prototype: a host may print any fact name, "__proto__" and "constructor" among them.
  const facts: Record<string, string> = Object.create(null);
  const noise: string[] = [];
  for (const line of stdout.split("\n")) {
    const fields = line.split("\t");
    if (fields[0] === "KPKI" && fields.length >= 4) {
      const [state, detail] = STEP_STATES.has(fields[2]!) ? [fields[2] as StepState, fields.slice(3).join(" ")] : ["failed" as const, `the host reported the state "${fields[2]}", which kpki does not know: ${fields.slice(3).join(" ")}`];
      steps.push({ step: fields[1]!, state, detail });
    }
    else if (fields[0] === "KPKIFACT" && fields.length >= 3) facts[fields[1]!] = fields.slice(2).join(" ");
    else if (line.trim()) noise.push(line);
  }
  return { steps, facts, noise };
}
