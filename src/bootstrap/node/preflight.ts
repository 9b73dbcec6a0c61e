import { KpkiError } from "../../errors.js";
import { KUBERNETES_MINORS, type KubernetesTarget } from "./versions.js";
import type { Role } from "./steps.js";
import { ipFamily } from "../../pki/names.js";

/**
 * kubeadm's preflight, check by check, and kpki's own checks beside it. The
 * node script only gathers facts (templates/node/preflight.sh); this table
 * judges them, with kubeadm's names and severities (cmd/kubeadm/app/preflight/
 * checks.go, checks_linux.go; system-validators for SystemVerification), so
 * one list says what is checked, for which role, and how kpki differs.
 */

export type Severity = "error" | "warning";

export interface PreflightContext {
  role: Role;
  kubernetes: KubernetesTarget;
  /** The API server's bind port (kubeadm's --apiserver-bind-port; kpki's --apiserver-port). */
  apiserverPort: number;
  serviceCidr: string;
  podCidr?: string;
  /** Where a joining node reaches the API server (host part of --control-plane-endpoint). */
  endpointHost?: string;
  /** The address kpki reached the host at: kubeadm init's advertise address by default. */
  hostAddress?: string;
  ipv6: boolean;
}

export interface Finding {
  severity: Severity;
  message: string;
}

export interface CheckRow {
  name: string;
  /** kubeadm's check, or one kpki adds. */
  source: "kubeadm" | "kpki";
  /** The worst severity the check can give. */
  severity: Severity;
  evaluate: (facts: Facts) => Finding[];
}

export interface CheckResult {
  name: string;
  source: "kubeadm" | "kpki";
  severity: Severity;
  /** fail with an error severity makes a host not ready; ignored is an error --ignore-preflight-errors turned into a warning. */
  status: "pass" | "fail" | "ignored";
  detail: string;
}

export type Facts = Record<string, string>;

const words = (text: string | undefined) => (text ?? "").split(/\s+/).filter(Boolean);
const err = (message: string): Finding => ({ severity: "error", message });
const warn = (message: string): Finding => ({ severity: "warning", message });

/** kubeadm's names: a path's slashes become dashes (FileAvailable--etc-kubernetes-pki-ca.crt). */
const pathName = (kind: string, file: string) => `${kind}-${file.replace(/\//g, "-")}`;

const MANIFESTS = ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"].map((name) => `/etc/kubernetes/manifests/${name}.yaml`);
const MANDATORY_BINARIES = ["ip", "iptables", "mount", "nsenter"];
const OPTIONAL_BINARIES = ["ebtables", "ethtool", "socat", "tc", "touch"];
const minorNumber = (minor: string) => Number(minor.split(".")[1]);

interface Version {
  major: number;
  minor: number;
  text: string;
}
function parseVersion(text: string | undefined): Version | undefined {
  const match = /v?(\d+)\.(\d+)\.(\d+)\S*/.exec(text ?? "");
  return match ? { major: Number(match[1]), minor: Number(match[2]), text: match[0].replace(/^v?/, "v") } : undefined;
}

function portCheck(port: number): CheckRow {
  return {
    name: `Port-${port}`,
    source: "kubeadm",
    severity: "error",
    evaluate: (facts) => (words(facts.listening).includes(String(port)) ? [err(`Port ${port} is in use`)] : []),
  };
}

function fileAvailable(file: string): CheckRow {
  return {
    name: pathName("FileAvailable", file),
    source: "kubeadm",
    severity: "error",
    evaluate: (facts) => (words(facts.files_present).includes(file) ? [err(`${file} already exists`)] : []),
  };
}

function dirAvailable(dir: string): CheckRow {
  return {
    name: pathName("DirAvailable", dir),
    source: "kubeadm",
    severity: "error",
    evaluate: (facts) => (facts[`dir_${dir.replace(/\//g, "_")}`] === "not-empty" ? [err(`${dir} is not empty`)] : []),
  };
}

function fileContent(file: string, fact: string): CheckRow {
  return {
    name: pathName("FileContent", file),
    source: "kubeadm",
    severity: "error",
    evaluate: (facts) => (facts[fact] === "1" ? [] : facts[fact] ? [err(`${file} contents are not set to 1`)] : [err(`${file} does not exist`)]),
  };
}

function inPath(binary: string, mandatory: boolean): CheckRow {
  return {
    name: `FileExisting-${binary}`,
    source: "kubeadm",
    severity: mandatory ? "error" : "warning",
    evaluate: (facts) => (words(facts.bins_missing).includes(binary) ? [{ severity: mandatory ? "error" : "warning", message: `${binary} not found in system path` }] : []),
  };
}

/**
 * Where a host's proxy settings come from: kubeadm's own environment (the
 * facts say the session's or /etc/environment), and, beyond kubeadm, the
 * environment systemd gives containerd (image pulls) and the kubelet (the API server).
 */
const PROXY_SOURCES = [
  { prefix: "proxy_", where: "the environment kubeadm runs in (the login session's or /etc/environment)" },
  { prefix: "proxy_containerd_", where: "containerd.service's Environment= (unit and drop-ins)" },
  { prefix: "proxy_kubelet_", where: "kubelet.service's Environment= (unit and drop-ins)" },
] as const;

/** Go's net/http proxy choice for an https URL: HTTPS_PROXY unless NO_PROXY covers the host (in one source's variables). */
export function proxyFor(host: string, facts: Facts, prefix: string = PROXY_SOURCES[0].prefix): string | undefined {
  const proxy = facts[`${prefix}HTTPS_PROXY`] || facts[`${prefix}https_proxy`];
  if (!proxy) return undefined;
  if (host === "localhost" || host === "127.0.0.1" || host === "::1") return undefined;
  const noProxy = (facts[`${prefix}NO_PROXY`] || facts[`${prefix}no_proxy`] || "").split(",").map((entry) => entry.trim().toLowerCase()).filter(Boolean);
  for (const entry of noProxy) {
    if (entry === "*") return undefined;
    if (ipFamily(host)) {
      if (entry.includes("/") ? cidrContains(entry, host) : entry.replace(/^\[|\]$/g, "") === host) return undefined;
      continue;
    }
    const name = entry.replace(/:\d+$/, "").replace(/^\*?\./, "");
    if (host === name || host.endsWith(`.${name}`)) return undefined;
  }
  return proxy;
}

function ipBits(ip: string): bigint | undefined {
  if (ipFamily(ip) === 4) return ip.split(".").reduce((value, part) => (value << 8n) | BigInt(Number(part)), 0n);
  if (ipFamily(ip) === 6) {
    const [head, tail = ""] = ip.split("::");
    const parts = (text: string) => (text ? text.split(":") : []);
    const groups = ip.includes("::") ? [...parts(head!), ...Array(8 - parts(head!).length - parts(tail).length).fill("0"), ...parts(tail)] : parts(ip);
    return groups.reduce((value, group) => (value << 16n) | BigInt(parseInt(group, 16)), 0n);
  }
  return undefined;
}

function cidrContains(cidr: string, ip: string): boolean {
  const [base, bitsText] = cidr.split("/");
  const family = ipFamily(base ?? "");
  if (!family || family !== ipFamily(ip)) return false;
  const width = family === 4 ? 32 : 128;
  const bits = Number(bitsText);
  if (!Number.isInteger(bits) || bits < 0 || bits > width) return false;
  const shift = BigInt(width - bits);
  return ipBits(base!)! >> shift === ipBits(ip)! >> shift;
}

/** The first address of a CIDR (kubeadm tests a connection to it through the proxy rules). */
export function firstAddress(cidr: string): string | undefined {
  const [base, bitsText] = cidr.split("/");
  const family = ipFamily(base ?? "");
  const bits = Number(bitsText);
  if (!family || !Number.isInteger(bits)) return undefined;
  const width = family === 4 ? 32 : 128;
  if (bits < 0 || bits > width) return undefined;
  const mask = ((1n << BigInt(width)) - 1n) ^ ((1n << BigInt(width - bits)) - 1n);
  const value = (ipBits(base!)! & mask) + 1n;
  if (family === 4) return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 255n)).join(".");
  return Array.from({ length: 8 }, (_, index) => ((value >> BigInt((7 - index) * 16)) & 0xffffn).toString(16)).join(":");
}

const cidrFamily = (cidr: string) => ipFamily(cidr.split("/")[0] ?? "");

/** kernel release regexps of system-validators: 4.19+ (and any 5.x/6.x) for kubeadm ≥ 1.32, 3.10+ before. */
function kernelProblem(release: string, minor: number): string | undefined {
  const match = /^(\d+)\.(\d+)/.exec(release);
  if (!match) return `cannot read the kernel release "${release}"`;
  const [major, kminor] = [Number(match[1]), Number(match[2])];
  if (minor >= 32) {
    if (major > 4 || (major === 4 && kminor === 19)) return undefined;
    return `kernel release ${release} is unsupported. Recommended LTS version from the 4.x series is 4.19. Any 5.x or 6.x versions are also supported`;
  }
  if (major > 3 || (major === 3 && kminor >= 10)) return undefined;
  return `unsupported kernel release: ${release}`;
}

/**
 * The kernel configuration SystemVerification asks for: system-validators'
 * DefaultSysSpec for Linux (validators/types_unix.go), option by option. A
 * required option not set (=y or =m, under its name or an alias) is an error;
 * an optional one is only named beside it. The cgroup options depend on the host's
 * cgroup version. KERNEL_CONFIG_NAMES is what the node script greps for.
 */
interface KernelOption {
  name: string;
  aliases?: readonly string[];
  need: "required" | "optional";
  /** Only on hosts with this cgroup version. */
  cgroups?: "v1" | "v2";
  description?: string;
}
const KERNEL_OPTIONS: readonly KernelOption[] = [
  ...["NAMESPACES", "NET_NS", "PID_NS", "IPC_NS", "UTS_NS", "CPUSETS", "MEMCG", "INET", "EXT4_FS", "PROC_FS"].map((name) => ({ name, need: "required" as const })),
  { name: "NETFILTER_XT_TARGET_REDIRECT", aliases: ["IP_NF_TARGET_REDIRECT"], need: "required" },
  { name: "NETFILTER_XT_MATCH_COMMENT", need: "required" },
  { name: "FAIR_GROUP_SCHED", need: "required" },
  // RequiredCgroupsV1 and RequiredCgroupsV2: the three they share, then each one's own.
  { name: "CGROUPS", need: "required", description: "Required for cgroups." },
  { name: "CGROUP_PIDS", need: "required", description: "Required for PIDs controller." },
  { name: "CGROUP_SCHED", need: "required", description: "Required for CPU controller." },
  { name: "CGROUP_CPUACCT", need: "required", cgroups: "v1", description: "Required for cpuacct controller, used in simple CPU accounting controller." },
  { name: "CGROUP_DEVICE", need: "required", cgroups: "v1", description: "Required for device controller." },
  { name: "CGROUP_FREEZER", need: "required", cgroups: "v1", description: "Required for freezer controller." },
  { name: "CGROUP_BPF", need: "required", cgroups: "v2", description: "Required for eBPF programs attached to cgroups, used in device controller." },
  { name: "OVERLAY_FS", aliases: ["OVERLAYFS_FS"], need: "optional", description: "Required for overlayfs." },
  { name: "AUFS_FS", need: "optional", description: "Required for aufs." },
  { name: "BLK_DEV_DM", need: "optional", description: "Required for devicemapper." },
  { name: "CFS_BANDWIDTH", need: "optional", description: "Required for CPU quota." },
  { name: "SECCOMP", need: "optional", description: "Required for seccomp." },
  { name: "SECCOMP_FILTER", need: "optional", description: "Required for seccomp mode 2." },
];
export const KERNEL_CONFIG_NAMES = [...new Set(KERNEL_OPTIONS.flatMap((option) => [option.name, ...(option.aliases ?? [])]))];

/** The validator's verdict on the options the node script found (facts.kernel_config_options: "CONFIG_X=y CONFIG_Y=n …"). */
function kernelConfigFindings(facts: Facts): Finding[] {
  if (facts.kernel_config === "modprobe-failed") return [err(`failed to parse kernel config: unable to load kernel module: "configs", output: "${facts.kernel_config_detail ?? ""}"`)];
  if (facts.kernel_config === "none") return [err(`failed to parse kernel config: no config path in [${facts.kernel_config_detail ?? ""}] is available`)];
  if (facts.kernel_config === "unreadable") return [err(`failed to parse kernel config: ${facts.kernel_config_path}: ${facts.kernel_config_detail || "cannot be read"}`)];
  if (facts.kernel_config !== "found") return [];
  const values = new Map(words(facts.kernel_config_options).map((entry) => entry.split("=") as [string, string]));
  const cgroups = facts.cgroupfs === "cgroup2fs" ? "v2" : "v1";
  const bad: string[] = [];
  const notes: string[] = [];
  for (const option of KERNEL_OPTIONS.filter((candidate) => !candidate.cgroups || candidate.cgroups === cgroups)) {
    const names = [option.name, ...(option.aliases ?? [])].map((name) => `CONFIG_${name}`);
    const found = names.find((name) => values.has(name));
    const value = found ? values.get(found)! : undefined;
    if (value === "y" || value === "m") continue;
    const name = found ?? names.at(-1)!;
    if (option.need === "required") bad.push(name);
    else notes.push(`${name}: ${value === "n" ? "disabled" : "not set"}${option.description ? ` - ${option.description}` : ""}`);
  }
  // kubeadm prints the optional ones only in the verification output it shows when the check fails; so does kpki.
  if (bad.length === 0) return [];
  return [err(`unexpected kernel config: ${bad.join(" ")} (${facts.kernel_config_path}${notes.length > 0 ? `; optional: ${notes.join(", ")}` : ""})`)];
}

const CGROUPS_V1 = ["cpu", "cpuacct", "cpuset", "devices", "freezer", "memory", "pids"];
const CGROUPS_V2 = ["cpu", "cpuset", "memory", "pids"]; // devices and freezer are implicit in v2

function systemVerification(target: number): CheckRow {
  return {
    name: "SystemVerification",
    source: "kubeadm",
    severity: "error",
    evaluate: (facts) => {
      const findings: Finding[] = [];
      const kernel = kernelProblem(facts.kernel ?? "", target);
      if (kernel) findings.push(err(kernel));
      findings.push(...kernelConfigFindings(facts));
      const controllers = words(facts.cgroup_controllers);
      if (facts.cgroupfs === "cgroup2fs") {
        const missing = CGROUPS_V2.filter((name) => !controllers.includes(name));
        if (missing.length > 0) findings.push(err(`missing required cgroups: ${missing.join(" ")}`));
      } else {
        // kubelet 1.35 refuses cgroup v1 by default (failCgroupV1): kpki makes that an error there.
        if (target >= 35) findings.push(err("cgroups v1: the kubelet of Kubernetes 1.35 and later refuses to run on it (failCgroupV1); boot with cgroup v2 (systemd.unified_cgroup_hierarchy=1)"));
        else findings.push(warn("cgroups v1 support is in maintenance mode, please migrate to cgroups v2"));
        const missing = CGROUPS_V1.filter((name) => !controllers.includes(name));
        if (missing.length > 0) findings.push(err(`missing required cgroups: ${missing.join(" ")}`));
      }
      return findings;
    },
  };
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

const hostnameCheck: CheckRow = {
  name: "Hostname",
  source: "kubeadm",
  severity: "warning",
  evaluate: (facts) => {
    const name = facts.hostname ?? "";
    const lower = name.toLowerCase();
    const findings: Finding[] = [];
    if (!DNS_SUBDOMAIN.test(lower) || lower.length > 253) findings.push(warn(`invalid node name format "${lower}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'`));
    else if (name !== lower) findings.push(warn(`host name "${name}" has upper-case letters: the node registers as "${lower}"`));
    if (facts.hostname_resolves === "no") findings.push(warn(`hostname "${lower}" could not be reached`));
    return findings;
  },
};

/**
 * kubeadm's KubeletVersionCheck, the one place kpki judges the kubelet's
 * version (the kubelet step only installs and enables it), so that
 * --ignore-preflight-errors KubeletVersion|all lets a host pass as kubeadm
 * would. Errors: kubeadm's two (below its MinimumKubeletVersion, three minors
 * under kubeadm's own version; above the control plane's) and its documented
 * skew rule that a kubelet is never newer than kubeadm. Everything else kpki
 * notices about the versions is a warning, which never blocks.
 */
function kubeletVersion(ctx: PreflightContext): CheckRow {
  const target = minorNumber(ctx.kubernetes.minor);
  const wanted = ctx.kubernetes.patch ?? ctx.kubernetes.minor;
  return {
    name: "KubeletVersion",
    source: "kubeadm",
    severity: "error",
    evaluate: (facts) => {
      const kubelet = parseVersion(facts.kubelet_version);
      if (!kubelet) return [err(`couldn't get kubelet version: ${facts.kubelet_version ? `"${facts.kubelet_version}"` : "kubelet is not installed"}`)];
      const kubeadm = parseVersion(facts.kubeadm_version);
      // MinimumKubeletVersion is kubeadm's own minor - 3 (kubeadm >= 1.29); with no kubeadm installed, the target's.
      const minimum = (kubeadm?.minor ?? target) - 3;
      if (kubelet.minor < minimum) return [err(`Kubelet version "${kubelet.text}" is lower than kubeadm can support (1.${minimum} and later). Please upgrade kubelet`)];
      // kubeadm init compares with the control plane it deploys; kubeadm join does not, kpki compares with the target there too.
      if (kubelet.minor > target) return [err(`the kubelet version is higher than the control plane version. This is not a supported version skew and may lead to a malfunctional cluster. Kubelet version: "${kubelet.text}" Control plane version: "${wanted}"`)];
      if (kubeadm && kubelet.minor > kubeadm.minor) return [err(`kubelet ${kubelet.text} is newer than kubeadm ${kubeadm.text}: kubeadm's skew policy allows a kubelet of kubeadm's minor or up to three older`)];
      const notes: string[] = [];
      if (kubelet.minor < target) notes.push(ctx.kubernetes.defaulted
        ? `kubelet ${kubelet.text} is not kpki's default target ${ctx.kubernetes.minor}: give --kubernetes-version 1.${kubelet.minor} to check for what is installed`
        : `kubelet ${kubelet.text} is older than the target ${ctx.kubernetes.minor}: a skew kubeadm supports, but not the version asked for`);
      else if (ctx.kubernetes.patch && kubelet.text !== `v${ctx.kubernetes.patch}`) notes.push(`kubelet ${kubelet.text} is not the pinned ${ctx.kubernetes.patch}`);
      if (kubeadm && kubeadm.text !== kubelet.text) notes.push(`kubelet ${kubelet.text} and kubeadm ${kubeadm.text} differ: install both at ${wanted}`);
      return notes.map(warn);
    },
  };
}

function kubernetesVersion(ctx: PreflightContext): CheckRow {
  const target = minorNumber(ctx.kubernetes.minor);
  return {
    name: "KubernetesVersion",
    source: "kubeadm",
    severity: "error",
    evaluate: (facts) => {
      const kubeadm = parseVersion(facts.kubeadm_version);
      if (!kubeadm) return [err(`kubeadm is not installed (or "kubeadm version -o short" failed): kubeadm ${ctx.role === "worker" ? "join" : "init/join"} cannot run`)];
      if (target > kubeadm.minor) return [warn(`Kubernetes version is greater than kubeadm version. Please consider to upgrade kubeadm. Kubernetes version: ${ctx.kubernetes.patch ?? ctx.kubernetes.minor}. Kubeadm version: 1.${kubeadm.minor}.x`)];
      if (target < kubeadm.minor - 1) return [err(`kubeadm ${kubeadm.text} deploys control planes of 1.${kubeadm.minor - 1} and later, not ${ctx.kubernetes.minor}`)];
      return [];
    },
  };
}

function proxyCheck(name: "HTTPProxy" | "HTTPProxyCIDR", targets: { label: string; host: string }[]): CheckRow {
  return {
    name,
    source: "kubeadm",
    severity: "warning",
    evaluate: (facts) =>
      PROXY_SOURCES.flatMap(({ prefix, where }) =>
        targets.flatMap(({ label, host }) => {
          const proxy = proxyFor(host, facts, prefix);
          if (!proxy) return [];
          return [warn(name === "HTTPProxy"
            ? `Connection to "https://${host}" uses proxy "${proxy}" (set in ${where}). If that is not intended, adjust your proxy settings (NO_PROXY)`
            : `connection to "${label}" uses proxy "${proxy}" (set in ${where}). This may lead to malfunctional cluster setup. Make sure that Pod and Services IP ranges specified correctly as exceptions in proxy configuration (NO_PROXY)`)];
        })),
  };
}

const row = (name: string, source: CheckRow["source"], severity: Severity, evaluate: CheckRow["evaluate"]): CheckRow => ({ name, source, severity, evaluate });

/** The checks kubeadm init (control-plane-init) or join (control-plane, worker) runs on the host, in kubeadm's order, then kpki's. */
export function preflightChecks(ctx: PreflightContext): CheckRow[] {
  const target = minorNumber(ctx.kubernetes.minor);
  const init = ctx.role === "control-plane-init";
  const controlPlane = ctx.role !== "worker";
  const cidrs = [ctx.serviceCidr, ...(ctx.podCidr ? [ctx.podCidr] : [])].flatMap((value) => value.split(",")).map((value) => value.trim()).filter(Boolean);
  const ipv6 = ctx.ipv6 || cidrs.some((cidr) => cidrFamily(cidr) === 6) || (ctx.endpointHost !== undefined && ipFamily(ctx.endpointHost) === 6);
  const ipv4 = !ipv6 || cidrs.some((cidr) => cidrFamily(cidr) === 4) || cidrs.length === 0;

  const rows: CheckRow[] = [row("IsPrivilegedUser", "kubeadm", "error", (facts) => (facts.uid === "0" ? [] : [err("user is not running as root")]))];

  const common: CheckRow[] = [
    row("CRI", "kubeadm", "error", (facts) => (facts.cri === "ok" ? [] : [err(`container runtime is not running: ${facts.cri_detail ?? "no answer"}`)])),
    row("Swap", "kubeadm", "warning", (facts) => (Number(facts.swaps ?? 0) > 0 ? [warn("swap is supported for cgroup v2 only. The kubelet must be properly configured to use swap, or disable swap on the node (kpki node prep turns it off for good)")] : [])),
    ...(target < 32 ? [inPath("conntrack", true)] : []),
    ...MANDATORY_BINARIES.map((binary) => inPath(binary, true)),
    ...OPTIONAL_BINARIES.map((binary) => inPath(binary, false)),
    systemVerification(target),
    hostnameCheck,
    kubeletVersion(ctx),
    row("Service-Kubelet", "kubeadm", "warning", (facts) =>
      facts.kubelet_service === "enabled" ? [] : facts.kubelet_service === "disabled" ? [warn("kubelet service is not enabled, please run 'systemctl enable kubelet.service'")] : [warn("kubelet service does not exist")]),
    portCheck(10250),
  ];
  const forwarding = [...(ipv4 ? [fileContent("/proc/sys/net/ipv4/ip_forward", "ip_forward")] : []), ...(ipv6 ? [fileContent("/proc/sys/net/ipv6/conf/default/forwarding", "ipv6_forwarding")] : [])];
  const controlPlaneChecks: CheckRow[] = [
    row("NumCPU", "kubeadm", "error", (facts) => (Number(facts.cpus ?? 0) < 2 ? [err(`the number of available CPUs ${facts.cpus ?? 0} is less than the required 2`)] : [])),
    row("Mem", "kubeadm", "error", (facts) => (Number(facts.memory_mb ?? 0) < 1700 ? [err(`the system RAM (${facts.memory_mb ?? 0} MB) is less than the minimum 1700 MB`)] : [])),
    kubernetesVersion(ctx),
    row("Firewalld", "kubeadm", "warning", (facts) => {
      if (facts.firewalld !== "active") return [];
      const open = words(facts.firewalld_ports);
      const closed = [ctx.apiserverPort, 10250].filter((port) => !open.some((entry) => portOpen(entry, port)));
      return closed.length > 0 ? [warn(`firewalld is active, please ensure ports [${closed.join(" ")}] are open or your cluster may not function correctly`)] : [];
    }),
    portCheck(ctx.apiserverPort),
    portCheck(10259),
    portCheck(10257),
    ...MANIFESTS.map(fileAvailable),
    proxyCheck("HTTPProxy", ctx.hostAddress && ipFamily(ctx.hostAddress) ? [{ label: ctx.hostAddress, host: ctx.hostAddress }] : []),
    proxyCheck("HTTPProxyCIDR", cidrs.flatMap((cidr) => {
      const host = firstAddress(cidr);
      return host ? [{ label: cidr, host }] : [];
    })),
  ];
  const etcd = [portCheck(2379), portCheck(2380), dirAvailable("/var/lib/etcd")];

  if (init) rows.push(...controlPlaneChecks, ...common, ...forwarding, ...etcd);
  else {
    rows.push(fileAvailable("/etc/kubernetes/kubelet.conf"), fileAvailable("/etc/kubernetes/bootstrap-kubelet.conf"), ...common);
    if (!controlPlane) rows.push(fileAvailable("/etc/kubernetes/pki/ca.crt"), kubernetesVersion(ctx));
    if (ctx.endpointHost) rows.push(proxyCheck("HTTPProxy", [{ label: ctx.endpointHost, host: ctx.endpointHost }]));
    rows.push(...forwarding);
    if (controlPlane) rows.push(...controlPlaneChecks.filter((check) => check.name !== "HTTPProxy" || !ctx.endpointHost), ...etcd);
  }
  rows.push(...KPKI_CHECKS);
  return dedupe(rows);
}

function portOpen(entry: string, port: number): boolean {
  const match = /^(\d+)(?:-(\d+))?\/tcp$/.exec(entry);
  if (!match) return false;
  const low = Number(match[1]);
  return port >= low && port <= Number(match[2] ?? low);
}

/** Two rows with one name would report twice (kubeadm runs join's and init's lists for a joining control plane). */
function dedupe(rows: CheckRow[]): CheckRow[] {
  const seen = new Set<string>();
  return rows.filter((check) => (seen.has(check.name) ? false : (seen.add(check.name), true)));
}

/** Beyond kubeadm: what makes a node that passed kubeadm's preflight still fail (pods, networking, the runtime). */
const KPKI_CHECKS: readonly CheckRow[] = [
  row("Modules", "kpki", "error", (facts) => {
    const missing = ["overlay", "br_netfilter"].filter((name) => !words(facts.modules_loaded).includes(name));
    return missing.length > 0 ? [err(`kernel modules not loaded: ${missing.join(", ")} (containerd's overlayfs; bridged pod traffic through iptables)`)] : [];
  }),
  row("BridgeNetfilter", "kpki", "error", (facts) => {
    const wrong = (["iptables", "ip6tables"] as const).filter((table) => facts[`bridge_nf_call_${table}`] !== "1").map((table) => `net.bridge.bridge-nf-call-${table}=${facts[`bridge_nf_call_${table}`] || "unset (br_netfilter not loaded)"}`);
    return wrong.length > 0 ? [err(`${wrong.join(", ")}: bridged pod traffic bypasses kube-proxy's rules; needs 1`)] : [];
  }),
  row("SELinux", "kpki", "warning", (facts) => (facts.selinux === "Enforcing" ? [warn("SELinux is enforcing: kubeadm's install guide sets it permissive so containers can read the host's files")] : [])),
  row("CgroupDriver", "kpki", "error", (facts) => {
    const kubelet = facts.kubelet_cgroup_driver || "systemd";
    const kubeletSays = `the kubelet ${kubelet}${facts.kubelet_cgroup_driver ? "" : " (kubeadm's default)"}: pods restart forever`;
    // Behind cri-dockerd the kubelet's pods run under Docker, whose driver docker info reports.
    if ((facts.cri_socket ?? "").includes("cri-dockerd")) {
      const docker = facts.docker_cgroup_driver;
      if (docker === "unknown") return [warn(`cannot ask Docker its cgroup driver (docker info: ${facts.docker_cgroup_detail || "no answer"}): the kubelet's is ${kubelet}`)];
      if (!docker || docker === "absent" || docker === kubelet) return [];
      return [err(`Docker uses the ${docker} cgroup driver (docker info), ${kubeletSays}; set "exec-opts": ["native.cgroupdriver=${kubelet}"] in /etc/docker/daemon.json and restart docker`)];
    }
    const runtime = facts.containerd_systemd_cgroup;
    if (runtime === undefined || runtime === "absent") return [];
    const driver = runtime === "true" ? "systemd" : "cgroupfs";
    return driver === kubelet ? [] : [err(`containerd's runc uses the ${driver} cgroup driver (SystemdCgroup = ${runtime}), ${kubeletSays}; set SystemdCgroup = ${kubelet === "systemd"}`)];
  }),
];

/** Judges the facts: one result per check, the ignored errors marked. */
export function evaluatePreflight(facts: Facts, ctx: PreflightContext, ignore: IgnoreSet): CheckResult[] {
  return preflightChecks(ctx).map((check) => {
    const findings = check.evaluate(facts);
    const severity: Severity = findings.some((finding) => finding.severity === "error") ? "error" : findings.length > 0 ? "warning" : check.severity;
    const failed = findings.length > 0;
    const status = !failed ? "pass" : severity === "error" && ignore.has(check.name) ? "ignored" : "fail";
    return { name: check.name, source: check.source, severity, status, detail: findings.map((finding) => finding.message).join("; ") };
  });
}

/** A failing error that is not ignored: kubeadm would stop there. */
export const blocks = (result: { severity: Severity; status: string }) => result.severity === "error" && result.status === "fail";

export interface IgnoreSet {
  has(name: string): boolean;
  /** What the operator gave, lower-cased, for the report. */
  names: readonly string[];
}

/** kubeadm names kpki accepts in --ignore-preflight-errors (so one list serves both) but cannot check from outside. */
const KUBEADM_ONLY = ["ImagePull", "ExternalEtcdVersion", "ExternalEtcdClientCertificates"];

/** Every check name kpki knows for these settings, over all roles (one list is carried between init and join hosts). */
export function knownCheckNames(ctx: Omit<PreflightContext, "role" | "ipv6">, extra: readonly string[] = []): string[] {
  const names = new Set<string>([...KUBEADM_ONLY, ...extra]);
  for (const role of ["control-plane-init", "control-plane", "worker"] as const) {
    for (const check of preflightChecks({ ...ctx, role, ipv6: true, endpointHost: ctx.endpointHost ?? "192.0.2.1" })) names.add(check.name);
    // conntrack is checked only below 1.32, Port-N for the chosen port: both stay valid names.
    for (const check of preflightChecks({ ...ctx, role, ipv6: true, kubernetes: { ...ctx.kubernetes, minor: KUBERNETES_MINORS[0].minor } })) names.add(check.name);
  }
  return [...names];
}

/**
 * kubeadm's --ignore-preflight-errors: names, comma-separated or repeated,
 * case-insensitive; "all" alone ignores every error. kpki also refuses a
 * name it does not know (kubeadm silently ignores a typo).
 */
export function parseIgnorePreflightErrors(values: readonly string[] | undefined, known: readonly string[]): IgnoreSet {
  const names = [...new Set((values ?? []).flatMap((value) => value.split(",")).map((value) => value.trim().toLowerCase()).filter(Boolean))];
  if (names.includes("all") && names.length > 1) throw new KpkiError("usage", `--ignore-preflight-errors ${names.join(",")}: don't specify individual checks if 'all' is used`);
  const lower = new Map(known.map((name) => [name.toLowerCase(), name]));
  const unknown = names.filter((name) => name !== "all" && !lower.has(name));
  if (unknown.length > 0) {
    const hint = unknown.map((name) => closest(name, [...lower.keys()])).find(Boolean);
    throw new KpkiError("usage", `--ignore-preflight-errors: no check named ${unknown.join(", ")}${hint ? ` (did you mean ${lower.get(hint)}?)` : ""}: give kubeadm's or kpki's check names as \`kpki node check\` prints them, or all`);
  }
  const all = names.includes("all");
  return { names, has: (name) => all || names.includes(name.toLowerCase()) };
}

function closest(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(3, Math.floor(name.length / 4)) + 1;
  for (const candidate of candidates) {
    const distance = editDistance(name, candidate);
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length]!;
}
