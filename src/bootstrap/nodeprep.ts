import { loadTemplate, renderTemplate } from "../templates.js";

export const ROLES = ["control-plane", "worker"] as const;
export type Role = (typeof ROLES)[number];
export const RUNTIMES = ["auto", "containerd", "docker"] as const;
export type Runtime = (typeof RUNTIMES)[number];
export const OS_FAMILIES = ["rhel", "debian"] as const;
export type OsFamily = (typeof OS_FAMILIES)[number];

/**
 * The node-preparation steps, in the order the remote script runs them
 * (templates/nodeprep.sh holds each step's check and apply, in sh). Each is
 * Ansible-like: it reports ok, would-change (check mode), changed or failed,
 * and running it twice changes nothing the second time.
 */
export const STEPS = [
  { name: "os", description: "distribution from /etc/os-release: RHEL or Debian family", families: ["rhel", "debian"] },
  { name: "swap", description: "swap off now and at boot: swapoff -a, fstab lines commented (backup kept), swap units masked, zram-generator off", families: ["rhel", "debian"] },
  { name: "modules", description: "overlay and br_netfilter loaded now and listed in /etc/modules-load.d", families: ["rhel", "debian"] },
  { name: "sysctl", description: "net.ipv4.ip_forward=1 and bridge-nf-call-iptables/ip6tables=1 now and in /etc/sysctl.d", families: ["rhel", "debian"] },
  { name: "selinux", description: "SELinux permissive now (setenforce 0) and in /etc/selinux/config", families: ["rhel"] },
  { name: "firewall", description: "firewalld, when running, opens the role's ports (or --no-firewall reports them)", families: ["rhel"] },
  { name: "runtime", description: "the container runtime (containerd or docker) enabled and started", families: ["rhel", "debian"] },
  { name: "kubelet", description: "kubelet enabled and started (it restarts until kubeadm init/join: expected)", families: ["rhel", "debian"] },
  { name: "resources", description: "read-only: CPUs and memory (a control plane needs 2 CPUs, 1700 MB)", families: ["rhel", "debian"] },
  { name: "hostname", description: "read-only: the host name is a valid lower-case DNS name", families: ["rhel", "debian"] },
  { name: "ports", description: "read-only: kubeadm's ports are free (6443, 10259, 10257, 10250, 2379-2380; workers 10250)", families: ["rhel", "debian"] },
] as const;

export type StepState = "ok" | "changed" | "would-change" | "failed" | "warn" | "info";

export interface StepResult {
  step: string;
  state: StepState;
  detail: string;
}

export interface NodeScriptOptions {
  mode: "check" | "apply";
  role: Role;
  runtime: Runtime;
  osFamily?: OsFamily;
  firewall: boolean;
  ipv6: boolean;
}

/** The one script a host runs: every step, its settings and the files it writes. */
export function renderNodeScript(options: NodeScriptOptions): string {
  const trim = (text: string) => text.replace(/\n+$/, "");
  return renderTemplate(loadTemplate("nodeprep.sh"), {
    mode: options.mode,
    role: options.role,
    runtime: options.runtime,
    os_family: options.osFamily ?? "",
    firewall: options.firewall ? "yes" : "no",
    sysctl_file: trim(renderTemplate(loadTemplate("sysctl-kubernetes.conf"), { ipv6: options.ipv6 ? "yes" : "" })),
    modules_file: trim(loadTemplate("modules-kubernetes.conf")),
  });
}

/** The script's report lines; anything else it printed is kept as `noise` for errors. */
export function parseNodeOutput(stdout: string): { steps: StepResult[]; facts: Record<string, string>; noise: string[] } {
  const steps: StepResult[] = [];
  const facts: Record<string, string> = {};
  const noise: string[] = [];
  for (const line of stdout.split("\n")) {
    const fields = line.split("\t");
    if (fields[0] === "KPKI" && fields.length >= 4) steps.push({ step: fields[1]!, state: fields[2] as StepState, detail: fields.slice(3).join(" ") });
    else if (fields[0] === "KPKIFACT" && fields.length >= 3) facts[fields[1]!] = fields.slice(2).join(" ");
    else if (line.trim()) noise.push(line);
  }
  return { steps, facts, noise };
}
