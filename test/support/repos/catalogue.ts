/**
 * The packages the test repositories hold, as data: name, version, package
 * release, dependencies and files. They stand in for pkgs.k8s.io's packages
 * (kubelet, kubeadm, kubectl, cri-tools) and for containerd (Debian's
 * `containerd`, Docker's `containerd.io`), and answer the version questions
 * kpki and kubeadm ask the way the real programs do. containerd carries this
 * machine's real containerd binaries; cri-tools carries the crictl stand-in
 * (test/support/crictl/crictl) when it exists.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export type FileSource = { text: string; mode?: number; conffile?: boolean } | { copy: string; mode?: number; conffile?: boolean };

export interface PackageSpec {
  name: string;
  version: string;
  /** Debian revision ("1.1") or RPM release ("150500.1.1"). */
  release: string;
  summary: string;
  depends?: string[];
  /** Absolute path in the package → content. */
  files: Record<string, FileSource>;
}

export const CRICTL_STANDIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../crictl/crictl");

const script = (body: string): FileSource => ({ text: `#!/bin/sh\n${body}\n`, mode: 0o755 });

const KUBELET_UNIT = `[Unit]
Description=kubelet: The Kubernetes Node Agent
Documentation=https://kubernetes.io/docs/
Wants=network-online.target
After=network-online.target

[Service]
ExecStart=/usr/bin/kubelet
Restart=always
StartLimitInterval=0
RestartSec=10

[Install]
WantedBy=multi-user.target
`;

const KUBEADM_DROPIN = `# Note: This dropin only works with kubeadm and kubelet v1.11+
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
EnvironmentFile=-/etc/sysconfig/kubelet
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
`;

/** kubelet kubeadm kubectl cri-tools of one Kubernetes version, for a family's release naming. */
export function kubernetesPackages(version: string, family: "deb" | "rpm"): PackageSpec[] {
  const [major, minor] = version.split(".");
  const release = family === "deb" ? "1.1" : "150500.1.1";
  const criVersion = `${major}.${minor}.0`;
  const info = `&version.Info{Major:"${major}", Minor:"${minor}", GitVersion:"v${version}", GitCommit:"0000000000000000000000000000000000000000", GitTreeState:"clean", BuildDate:"2025-06-17T18:36:11Z", GoVersion:"go1.24.4", Compiler:"gc", Platform:"linux/amd64"}`;
  const crictl: FileSource = existsSync(CRICTL_STANDIN)
    ? { copy: CRICTL_STANDIN, mode: 0o755 }
    : script(`case "$1" in --version|-v) echo "crictl version v${criVersion}"; exit 0 ;; esac\necho "crictl: the test package's placeholder only answers --version" >&2; exit 1`);
  return [
    {
      name: "kubelet",
      version,
      release,
      summary: "Node agent for Kubernetes clusters (kpki test package)",
      files: {
        "/usr/bin/kubelet": script(`case "$1" in --version) echo "Kubernetes v${version}"; exit 0 ;; esac\necho "E: kubelet test package: no config (kubeadm init/join writes /var/lib/kubelet/config.yaml)" >&2; exit 1`),
        "/usr/lib/systemd/system/kubelet.service": { text: KUBELET_UNIT },
      },
    },
    {
      name: "kubectl",
      version,
      release,
      summary: "Command-line utility for interacting with a Kubernetes cluster (kpki test package)",
      files: {
        "/usr/bin/kubectl": script(`case "$1 $2" in "version --client") echo "Client Version: v${version}"; echo "Kustomize Version: v5.6.0"; exit 0 ;; esac\necho "kubectl test package: only version --client" >&2; exit 1`),
      },
    },
    {
      name: "cri-tools",
      version: criVersion,
      release,
      summary: "Command-line utility for interacting with a container runtime (kpki test package)",
      files: { "/usr/bin/crictl": crictl },
    },
    {
      name: "kubeadm",
      version,
      release,
      summary: "Command-line utility for administering a Kubernetes cluster (kpki test package)",
      depends: ["kubelet", "kubectl", "cri-tools"],
      files: {
        "/usr/bin/kubeadm": script(
          `case "$1 $2 $3" in\n  "version -o short") echo "v${version}" ;;\n  "version  ") echo 'kubeadm version: ${info}' ;;\n  *) echo "kubeadm test package: only version [-o short]" >&2; exit 1 ;;\nesac`,
        ),
        "/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf": { text: KUBEADM_DROPIN },
      },
    },
  ];
}

/** This machine's Debian containerd: the real binaries, unit and config. */
function containerdFiles(config: FileSource): Record<string, FileSource> {
  const files: Record<string, FileSource> = { "/etc/containerd/config.toml": config };
  for (const program of ["/usr/bin/containerd", "/usr/bin/containerd-shim-runc-v2", "/usr/bin/ctr"]) {
    if (existsSync(program)) files[program] = { copy: program, mode: 0o755 };
  }
  files["/usr/lib/systemd/system/containerd.service"] = { copy: "/lib/systemd/system/containerd.service" };
  return files;
}

export function containerdAvailable(): string | undefined {
  return existsSync("/usr/bin/containerd") && existsSync("/lib/systemd/system/containerd.service")
    ? undefined
    : "this machine's containerd is missing (the test packages carry it): apt-get install -y containerd";
}

/** containerd's upstream version from the real binary's package (1.6.20~ds1-1+deb12u3 → 1.6.20). */
function machineContainerdVersion(): string {
  try {
    const status = readFileSync("/var/lib/dpkg/status", "utf8");
    const block = status.split("\n\n").find((entry) => /^Package: containerd$/m.test(entry));
    const version = block && /^Version: (.+)$/m.exec(block)?.[1];
    if (version) return version;
  } catch {
    // fall through
  }
  return "1.6.20~ds1-1";
}

/** Debian's containerd, as the distribution's repository serves it. */
export function debianContainerd(): PackageSpec {
  const full = machineContainerdVersion();
  const dash = full.lastIndexOf("-");
  return {
    name: "containerd",
    version: full.slice(0, dash),
    release: full.slice(dash + 1),
    summary: "open and reliable container runtime (kpki test package: this machine's binaries)",
    files: containerdFiles({ copy: "/etc/containerd/config.toml", conffile: true }),
  };
}

/** Docker's containerd.io: its packaged config turns the CRI plugin off (containerd#4581). */
export function dockerContainerd(releasever: string): PackageSpec {
  const version = /^(\d+\.\d+\.\d+)/.exec(machineContainerdVersion())?.[1] ?? "1.6.20";
  return {
    name: "containerd.io",
    version,
    release: `3.1.el${releasever}`,
    summary: "An industry-standard container runtime (kpki test package: this machine's binaries)",
    files: containerdFiles({
      text: `#   Copyright 2018-2022 Docker Inc.\n\n#   Licensed under the Apache License, Version 2.0 (the "License");\n\ndisabled_plugins = ["cri"]\n\n#root = "/var/lib/containerd"\n#state = "/run/containerd"\n#subreaper = true\n#oom_score = 0\n`,
      conffile: true,
    }),
  };
}

/** What a RHEL-family host's rpm database starts with: dnf reads $releasever from it. */
export function rhelBase(releasever: string, distribution: string): PackageSpec & { provides: string[] } {
  return {
    name: `${distribution}-release`,
    version: releasever,
    release: "1",
    summary: `${distribution} release files (kpki test host base: no files)`,
    files: {},
    provides: [`system-release(releasever) = ${releasever}`, "system-release", "/bin/sh", "bash", "glibc", "coreutils"],
  };
}
