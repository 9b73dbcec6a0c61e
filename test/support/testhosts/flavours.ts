/**
 * What makes a test host look like a given distribution: release files, an
 * fstab with an active swap line, SELinux config on RHEL-likes, vendor sysctl
 * files, which package manager exists, and which software ("units") is
 * installed. Everything here is data; overlay.ts lays it out as files.
 *
 * Adding a flavour = one more entry in FLAVOURS.
 */

export type Family = "rhel" | "debian";
export type FlavourName = "centos7" | "rocky9" | "centos-stream9" | "ubuntu2204" | "debian12";

/** Software a host can have, each a systemd unit the systemctl shim knows. */
export type KnownUnit = "kubelet" | "containerd" | "docker" | "firewalld";
/** absent: not installed; installed: unit file present, disabled; enabled: enabled (so active after boot). */
export type UnitSetup = "absent" | "installed" | "enabled";

export interface Flavour {
  name: FlavourName;
  family: Family;
  /** systemd's version: a few outputs differ (list-unit-files exit status). */
  systemdVersion: number;
  /** The real package manager the host runs (yum is Debian's dnf under that name: Debian has no yum). */
  packageManager: "apt" | "dnf" | "yum";
  /** RHEL family: $releasever, from the base package in the host's rpm database. */
  releasever?: string;
  /** Where this distribution's unit files live (targets of enable symlinks). */
  unitDir: "/usr/lib/systemd/system" | "/lib/systemd/system";
  /** The OpenSSH unit's name (reported active; the real sshd is PID 1). */
  sshUnit: string;
  /** The fstab's swap line (active at boot unless commented out or masked). */
  swapLine: string;
  /** Device the swap line names (for the systemd .swap unit and /proc/swaps). */
  swapSpec: string;
  fstab: (swapLine: string) => string;
  /** SELINUX= in /etc/selinux/config (RHEL family only). */
  selinux?: "enforcing" | "permissive" | "disabled";
  /** zram-generator's default config is installed: /dev/zram0 swap at boot. */
  zram?: boolean;
  /** Installed software by default. */
  units: Record<KnownUnit, UnitSetup>;
  /** Files of the distribution, absolute path → content (symlinks: "-> target"). */
  files: Record<string, string>;
}

export const selinuxConfig = (mode: string) => `
# This file controls the state of SELinux on the system.
# SELINUX= can take one of these three values:
#     enforcing - SELinux security policy is enforced.
#     permissive - SELinux prints warnings instead of enforcing.
#     disabled - No SELinux policy is loaded.
SELINUX=${mode}
# SELINUXTYPE= can take one of three values:
#     targeted - Targeted processes are protected,
#     minimum - Modification of targeted policy. Only selected processes are protected.
#     mls - Multi Level Security protection.
SELINUXTYPE=targeted
`.trimStart();

/** systemd's vendor defaults, trimmed to keys that exist on this kernel. */
const SYSTEMD_50_DEFAULT = `# See sysctl.d(5) and core(5) for documentation.
kernel.core_uses_pid = 1
net.ipv4.conf.default.rp_filter = 2
net.ipv4.conf.all.rp_filter = 2
fs.protected_hardlinks = 1
fs.protected_symlinks = 1
`;

const rhelFstab = (vg: string) => (swapLine: string) => `
#
# /etc/fstab
# Created by anaconda
#
# Accessible filesystems, by reference, are maintained under '/dev/disk'
# See man pages fstab(5), findfs(8), mount(8) and/or blkid(8) for more info
#
/dev/mapper/${vg}-root /                       xfs     defaults        0 0
UUID=3b7c4e5a-6f1e-4d0b-9a61-2d3f7c1e8a90 /boot                   xfs     defaults        0 0
${swapLine}
`.trimStart();

const FIREWALLD_PUBLIC = `<?xml version="1.0" encoding="utf-8"?>
<zone>
  <short>Public</short>
  <description>For use in public areas.</description>
  <service name="ssh"/>
  <service name="dhcpv6-client"/>
</zone>
`;

const RHEL_COMMON: Record<string, string> = {
  "/usr/lib/firewalld/zones/public.xml": FIREWALLD_PUBLIC,
  "/etc/firewalld/firewalld.conf": "DefaultZone=public\n",
  "/etc/sysconfig/selinux": "-> ../selinux/config",
  "/etc/issue": "\\S\nKernel \\r on an \\m\n\n",
};

export const FLAVOURS: Record<FlavourName, Flavour> = {
  centos7: {
    name: "centos7",
    family: "rhel",
    systemdVersion: 219,
    packageManager: "yum",
    releasever: "7",
    unitDir: "/usr/lib/systemd/system",
    sshUnit: "sshd.service",
    swapLine: "/dev/mapper/centos-swap swap                    swap    defaults        0 0",
    swapSpec: "/dev/mapper/centos-swap",
    fstab: rhelFstab("centos"),
    selinux: "enforcing",
    units: { kubelet: "installed", docker: "installed", containerd: "installed", firewalld: "enabled" },
    files: {
      ...RHEL_COMMON,
      "/usr/lib/os-release": `NAME="CentOS Linux"
VERSION="7 (Core)"
ID="centos"
ID_LIKE="rhel fedora"
VERSION_ID="7"
PRETTY_NAME="CentOS Linux 7 (Core)"
ANSI_COLOR="0;31"
CPE_NAME="cpe:/o:centos:centos:7"
HOME_URL="https://www.centos.org/"
BUG_REPORT_URL="https://bugs.centos.org/"

CENTOS_MANTISBT_PROJECT="CentOS-7"
CENTOS_MANTISBT_PROJECT_VERSION="7"
REDHAT_SUPPORT_PRODUCT="centos"
REDHAT_SUPPORT_PRODUCT_VERSION="7"

`,
      "/etc/centos-release": "CentOS Linux release 7.9.2009 (Core)\n",
      "/etc/redhat-release": "-> centos-release",
      "/etc/system-release": "-> centos-release",
      "/etc/system-release-cpe": "cpe:/o:centos:centos:7\n",
      // The EL7 gotcha: netfilter on bridges switched off by a vendor file.
      "/usr/lib/sysctl.d/00-system.conf": `# Kernel sysctl configuration file
#
# For binary values, 0 is disabled, 1 is enabled.  See sysctl(8) and
# sysctl.conf(5) for more details.

# Disable netfilter on bridges.
net.bridge.bridge-nf-call-ip6tables = 0
net.bridge.bridge-nf-call-iptables = 0
net.bridge.bridge-nf-call-arptables = 0
`,
      "/usr/lib/sysctl.d/50-default.conf": SYSTEMD_50_DEFAULT.replace(/= 2/g, "= 1"),
    },
  },
  rocky9: {
    name: "rocky9",
    family: "rhel",
    systemdVersion: 252,
    packageManager: "dnf",
    releasever: "9",
    unitDir: "/usr/lib/systemd/system",
    sshUnit: "sshd.service",
    swapLine: "/dev/mapper/rl-swap     none                    swap    defaults        0 0",
    swapSpec: "/dev/mapper/rl-swap",
    fstab: rhelFstab("rl"),
    selinux: "enforcing",
    units: { kubelet: "installed", docker: "absent", containerd: "installed", firewalld: "enabled" },
    files: {
      ...RHEL_COMMON,
      "/usr/lib/os-release": `NAME="Rocky Linux"
VERSION="9.4 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.4"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Rocky Linux 9.4 (Blue Onyx)"
ANSI_COLOR="0;32"
LOGO="fedora-logo-icon"
CPE_NAME="cpe:/o:rocky:rocky:9::baseos"
HOME_URL="https://rockylinux.org/"
BUG_REPORT_URL="https://bugs.rockylinux.org/"
SUPPORT_END="2032-05-31"
ROCKY_SUPPORT_PRODUCT="Rocky-Linux-9"
ROCKY_SUPPORT_PRODUCT_VERSION="9.4"
REDHAT_SUPPORT_PRODUCT="Rocky Linux"
REDHAT_SUPPORT_PRODUCT_VERSION="9.4"
`,
      "/etc/rocky-release": "Rocky Linux release 9.4 (Blue Onyx)\n",
      "/etc/redhat-release": "-> rocky-release",
      "/etc/system-release": "-> rocky-release",
      "/etc/system-release-cpe": "cpe:/o:rocky:rocky:9::baseos\n",
      "/usr/lib/sysctl.d/50-default.conf": SYSTEMD_50_DEFAULT,
    },
  },
  "centos-stream9": {
    name: "centos-stream9",
    family: "rhel",
    systemdVersion: 252,
    packageManager: "dnf",
    releasever: "9",
    unitDir: "/usr/lib/systemd/system",
    sshUnit: "sshd.service",
    swapLine: "/dev/mapper/cs-swap     none                    swap    defaults        0 0",
    swapSpec: "/dev/mapper/cs-swap",
    fstab: rhelFstab("cs"),
    selinux: "enforcing",
    zram: true,
    units: { kubelet: "installed", docker: "absent", containerd: "installed", firewalld: "enabled" },
    files: {
      ...RHEL_COMMON,
      "/usr/lib/os-release": `NAME="CentOS Stream"
VERSION="9"
ID="centos"
ID_LIKE="rhel fedora"
VERSION_ID="9"
PLATFORM_ID="platform:el9"
PRETTY_NAME="CentOS Stream 9"
ANSI_COLOR="0;31"
LOGO="fedora-logo-icon"
CPE_NAME="cpe:/o:centos:centos:9"
HOME_URL="https://centos.org/"
BUG_REPORT_URL="https://issues.redhat.com/"
REDHAT_SUPPORT_PRODUCT="Red Hat Enterprise Linux 9"
REDHAT_SUPPORT_PRODUCT_VERSION="CentOS Stream"
`,
      "/etc/centos-release": "CentOS Stream release 9\n",
      "/etc/redhat-release": "-> centos-release",
      "/etc/system-release": "-> centos-release",
      "/etc/system-release-cpe": "cpe:/o:centos:centos:9\n",
      "/usr/lib/sysctl.d/50-default.conf": SYSTEMD_50_DEFAULT,
      // zram-generator-defaults: /dev/zram0 as swap on every boot.
      "/usr/lib/systemd/zram-generator.conf": "# This config file enables a /dev/zram0 device with the default settings\n[zram0]\n",
    },
  },
  ubuntu2204: {
    name: "ubuntu2204",
    family: "debian",
    systemdVersion: 249,
    packageManager: "apt",
    unitDir: "/lib/systemd/system",
    sshUnit: "ssh.service",
    swapLine: "/swap.img\tnone\tswap\tsw\t0\t0",
    swapSpec: "/swap.img",
    fstab: (swapLine) => `# /etc/fstab: static file system information.
#
# Use 'blkid' to print the universally unique identifier for a
# device; this may be used with UUID= as a more robust way to name devices
# that works even if disks are added and removed. See fstab(5).
#
# <file system> <mount point>   <type>  <options>       <dump>  <pass>
/dev/disk/by-uuid/6f0c1a4e-2b1d-4c1e-9f3a-8d2e5b7c9a10 / ext4 defaults 0 1
${swapLine}
`,
    units: { kubelet: "enabled", docker: "absent", containerd: "enabled", firewalld: "absent" },
    files: {
      "/usr/lib/os-release": `PRETTY_NAME="Ubuntu 22.04.4 LTS"
NAME="Ubuntu"
VERSION_ID="22.04"
VERSION="22.04.4 LTS (Jammy Jellyfish)"
VERSION_CODENAME=jammy
ID=ubuntu
ID_LIKE=debian
HOME_URL="https://www.ubuntu.com/"
SUPPORT_URL="https://help.ubuntu.com/"
BUG_REPORT_URL="https://bugs.launchpad.net/ubuntu/"
PRIVACY_POLICY_URL="https://www.ubuntu.com/legal/terms-and-policies/privacy-policy"
UBUNTU_CODENAME=jammy
`,
      "/etc/lsb-release": "DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=22.04\nDISTRIB_CODENAME=jammy\nDISTRIB_DESCRIPTION=\"Ubuntu 22.04.4 LTS\"\n",
      "/etc/debian_version": "bookworm/sid\n",
      "/etc/issue": "Ubuntu 22.04.4 LTS \\n \\l\n\n",
      "/etc/sysctl.d/10-network-security.conf": "# Turn on Source Address Verification in all interfaces to\n# prevent some spoofing attacks.\nnet.ipv4.conf.default.rp_filter=2\nnet.ipv4.conf.all.rp_filter=2\n",
      "/etc/sysctl.d/10-kernel-hardening.conf": "# These settings are specific to hardening the kernel itself from attack\n# from userspace, rather than protecting userspace from other malicious\n# userspace things.\nkernel.kptr_restrict = 1\n",
      "/etc/sysctl.d/10-zeropage.conf": "# Protect the zero page of memory from userspace mmap to prevent kernel\n# NULL-dereference attacks against potential future kernel security\n# vulnerabilities.\nvm.mmap_min_addr = 65536\n",
    },
  },
  debian12: {
    name: "debian12",
    family: "debian",
    systemdVersion: 252,
    packageManager: "apt",
    unitDir: "/lib/systemd/system",
    sshUnit: "ssh.service",
    swapLine: "UUID=8d1c3f0e-5a27-4b9e-a3c2-71f0e4d6b5a8 none            swap    sw              0       0",
    swapSpec: "UUID=8d1c3f0e-5a27-4b9e-a3c2-71f0e4d6b5a8",
    fstab: (swapLine) => `# /etc/fstab: static file system information.
#
# Use 'blkid' to print the universally unique identifier for a
# device; this may be used with UUID= as a more robust way to name devices
# that works even if disks are added and removed. See fstab(5).
#
# systemd generates mount units based on this file, see systemd.mount(5).
# Please run 'systemctl daemon-reload' after making changes here.
#
# <file system> <mount point>   <type>  <options>       <dump>  <pass>
# / was on /dev/vda1 during installation
UUID=2f9b6d1a-0c4e-4e3b-8a7f-5d6c1b2e3f40 /               ext4    errors=remount-ro 0       1
# swap was on /dev/vda5 during installation
${swapLine}
`,
    units: { kubelet: "enabled", docker: "absent", containerd: "enabled", firewalld: "absent" },
    files: {
      "/usr/lib/os-release": `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
`,
      "/etc/debian_version": "12.5\n",
      "/etc/issue": "Debian GNU/Linux 12 \\n \\l\n\n",
    },
  },
};

/** Files every flavour of a family must not show from this (Debian) machine: made overlay whiteouts. */
export const HIDDEN: Record<Family, string[]> = {
  rhel: [
    "/etc/containerd",
    "/etc/debian_version",
    "/etc/apt",
    "/etc/dpkg",
    "/etc/issue.net",
    "/etc/network",
    "/etc/modules-load.d/modules.conf",
    "/usr/bin/apt",
    "/usr/bin/apt-get",
    "/usr/bin/apt-cache",
    "/usr/bin/apt-config",
    "/usr/bin/apt-key",
    "/usr/bin/apt-mark",
    "/usr/bin/dpkg",
    "/usr/bin/dpkg-query",
    "/usr/share/doc/debian",
    "/var/lib/dpkg",
    "/var/lib/apt",
    "/var/cache/apt",
  ],
  // This machine's containerd configuration: a host has its package's (runtime.ts).
  debian: ["/etc/containerd"],
};

/**
 * Made opaque on every host: this machine's systemd units and enablement
 * links stay hidden; the host's own are laid out instead.
 */
export const OPAQUE_ALWAYS = ["/etc/systemd/system", "/usr/lib/systemd/system"];

export interface UnitTemplate {
  unit: string;
  description: string;
  /** Program the package provides, answering --version like the real one. */
  program?: { path: string; version: string };
}

/** Each known piece of software: its unit and its program. */
export const SOFTWARE: Record<KnownUnit, UnitTemplate> = {
  kubelet: {
    unit: "kubelet.service",
    description: "kubelet: The Kubernetes Node Agent",
    program: { path: "/usr/bin/kubelet", version: "Kubernetes v1.30.2" },
  },
  containerd: {
    unit: "containerd.service",
    description: "containerd container runtime",
    program: { path: "/usr/bin/containerd", version: "containerd containerd.io 1.7.19 2bf793ef6dc9a18e00cb12efb64355c2c9d5eb41" },
  },
  docker: {
    unit: "docker.service",
    description: "Docker Application Container Engine",
    program: { path: "/usr/bin/docker", version: "Docker version 26.1.4, build 5650f9b" },
  },
  firewalld: {
    unit: "firewalld.service",
    description: "firewalld - dynamic firewall daemon",
    program: { path: "/usr/sbin/firewalld", version: "1.3.4" },
  },
};

/**
 * What makes this machine's real apt/dpkg or dnf/rpm a host's own: its own
 * (empty) package database and caches, no inherited sources (the machine's
 * debian.sources would make apt wait on DNS), RHEL's dnf settings, and on
 * RHEL-likes an rpm database at /var/lib/rpm (Debian's default is ~/.rpmdb).
 * files: laid out in the flavour layer; opaque: folders that start empty;
 * hidden: whiteouts.
 */
export const PACKAGE_MANAGER_LAYER: Record<Family, { files: Record<string, string>; opaque: string[]; hidden: string[] }> = {
  debian: {
    files: { "/var/lib/dpkg/status": "", "/var/lib/dpkg/available": "" },
    opaque: ["/var/lib/dpkg/info", "/var/lib/dpkg/updates", "/var/lib/dpkg/triggers", "/var/lib/apt", "/var/cache/apt", "/etc/apt/sources.list.d"],
    hidden: ["/etc/apt/sources.list", "/var/lib/dpkg/status-old", "/var/lib/dpkg/available-old"],
  },
  rhel: {
    files: {
      "/etc/rpm/macros.dbpath": "%_dbpath /var/lib/rpm\n",
      // Debian's dnf turns on its "local" plugin and skips unreachable repositories; RHEL's does neither.
      "/etc/dnf/plugins/local.conf": "[main]\nenabled = 0\n",
      "/etc/dnf/dnf.conf": "[main]\ngpgcheck=1\ninstallonly_limit=3\nclean_requirements_on_remove=True\nbest=True\nskip_if_unavailable=False\n",
    },
    opaque: ["/etc/yum.repos.d", "/var/lib/rpm", "/var/lib/dnf", "/var/cache/dnf"],
    hidden: [],
  },
};

/** This machine's containerd (Debian's package, carried by the test repositories' packages): hidden where a host has none. */
export const MACHINE_CONTAINERD = [
  "/usr/bin/containerd",
  "/usr/bin/containerd-shim",
  "/usr/bin/containerd-shim-runc-v1",
  "/usr/bin/containerd-shim-runc-v2",
  "/usr/bin/ctr",
  "/etc/containerd",
];

export function unitFile(template: UnitTemplate): string {
  return `[Unit]
Description=${template.description}
After=network-online.target
Wants=network-online.target

[Service]
ExecStart=${template.program?.path ?? "/bin/true"}
Restart=always
RestartSec=10

[Install]
WantedBy=multi-user.target
`;
}

export function isFlavour(name: string): name is FlavourName {
  return Object.hasOwn(FLAVOURS, name);
}
