import { describe, expect, it } from "vitest";
import { clockSkew, fleetChecks, FLEET_CHECK_NAMES } from "../../src/bootstrap/node/fleetchecks.js";
import { blocks, evaluatePreflight, firstAddress, KERNEL_CONFIG_NAMES, knownCheckNames, parseIgnorePreflightErrors, preflightChecks, proxyFor, type PreflightContext } from "../../src/bootstrap/node/preflight.js";
import { planPush, SHARED_PKI_FILES, type LocalClusterFiles } from "../../src/bootstrap/node/pushpki.js";
import { resolveKubernetesVersion } from "../../src/bootstrap/node/versions.js";

const context = (overrides: Partial<PreflightContext> = {}): PreflightContext => ({
  role: "control-plane-init",
  kubernetes: resolveKubernetesVersion("1.33"),
  apiserverPort: 6443,
  serviceCidr: "10.96.0.0/12",
  hostAddress: "192.0.2.11",
  ipv6: false,
  ...overrides,
});

/** What a host ready for kubeadm 1.33 reports. */
const GOOD: Record<string, string> = {
  uid: "0", cpus: "4", memory_mb: "8000", kernel: "6.1.0-18-amd64", cgroupfs: "cgroup2fs", cgroup_controllers: "cpuset cpu io memory hugetlb pids rdma",
  swaps: "0", hostname: "cp-1", hostname_resolves: "yes", listening: "22", bins_missing: "", files_present: "", dir__var_lib_etcd: "absent",
  ip_forward: "1", ipv6_forwarding: "1", firewalld: "inactive", cri: "ok", kubelet_version: "Kubernetes v1.33.2", kubeadm_version: "v1.33.2",
  kubelet_service: "enabled", modules_loaded: "overlay br_netfilter", bridge_nf_call_iptables: "1", bridge_nf_call_ip6tables: "1", selinux: "Permissive",
  containerd_systemd_cgroup: "true", kubelet_cgroup_driver: "",
  kernel_config: "found", kernel_config_path: "/proc/config.gz", kernel_config_options: KERNEL_CONFIG_NAMES.map((name) => `CONFIG_${name}=y`).join(" "),
};
const none = parseIgnorePreflightErrors([], []);
const results = (facts: Record<string, string>, ctx = context(), ignore = none) => evaluatePreflight({ ...GOOD, ...facts }, ctx, ignore);
const failed = (facts: Record<string, string>, ctx = context(), ignore = none) =>
  results(facts, ctx, ignore).filter((result) => result.status !== "pass").map((result) => `${result.name}:${result.severity}:${result.status}`);

describe("kubeadm's preflight, judged from a host's facts", () => {
  it("passes every check on a ready host, for each role", () => {
    for (const role of ["control-plane-init", "control-plane", "worker"] as const) expect(failed({}, context({ role })), role).toEqual([]);
  });

  it("asks each role kubeadm's own list, under kubeadm's names", () => {
    const names = (role: PreflightContext["role"]) => preflightChecks(context({ role })).map((check) => check.name);
    expect(names("control-plane-init")).toEqual(expect.arrayContaining(["IsPrivilegedUser", "NumCPU", "Mem", "Port-6443", "Port-10259", "Port-10257", "Port-10250", "Port-2379", "Port-2380",
      "FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml", "FileAvailable--etc-kubernetes-manifests-kube-controller-manager.yaml", "FileAvailable--etc-kubernetes-manifests-kube-scheduler.yaml",
      "FileAvailable--etc-kubernetes-manifests-etcd.yaml", "DirAvailable--var-lib-etcd", "FileContent--proc-sys-net-ipv4-ip_forward", "HTTPProxy", "HTTPProxyCIDR", "CRI", "Swap", "SystemVerification",
      "Hostname", "KubeletVersion", "KubernetesVersion", "Service-Kubelet", "Firewalld", "FileExisting-ip", "FileExisting-iptables", "FileExisting-mount", "FileExisting-nsenter", "FileExisting-socat"]));
    expect(names("control-plane-init")).not.toContain("FileAvailable--etc-kubernetes-kubelet.conf");
    expect(names("control-plane")).toEqual(expect.arrayContaining(["FileAvailable--etc-kubernetes-kubelet.conf", "FileAvailable--etc-kubernetes-bootstrap-kubelet.conf", "DirAvailable--var-lib-etcd", "Port-6443"]));
    expect(names("control-plane")).not.toContain("FileAvailable--etc-kubernetes-pki-ca.crt");
    expect(names("worker")).toContain("FileAvailable--etc-kubernetes-pki-ca.crt");
    for (const absent of ["NumCPU", "Port-6443", "DirAvailable--var-lib-etcd", "FileAvailable--etc-kubernetes-manifests-etcd.yaml"]) expect(names("worker")).not.toContain(absent);
    expect(new Set(names("control-plane")).size).toBe(names("control-plane").length);
    // --apiserver-port names the port check; conntrack only below 1.32 (kube-proxy stopped needing it); IPv6 forwarding with an IPv6 cluster.
    expect(preflightChecks(context({ apiserverPort: 8443 })).map((check) => check.name)).toContain("Port-8443");
    expect(names("control-plane-init")).not.toContain("FileExisting-conntrack");
    expect(preflightChecks(context({ kubernetes: resolveKubernetesVersion("1.31") })).map((check) => check.name)).toContain("FileExisting-conntrack");
    expect(preflightChecks(context({ serviceCidr: "10.96.0.0/12,fd00:10:96::/112" })).map((check) => check.name)).toEqual(expect.arrayContaining(["FileContent--proc-sys-net-ipv4-ip_forward", "FileContent--proc-sys-net-ipv6-conf-default-forwarding"]));
  });

  it("gives kubeadm's severities: errors block, warnings never do", () => {
    expect(failed({ listening: "22 6443" })).toEqual(["Port-6443:error:fail"]);
    expect(failed({ files_present: "/etc/kubernetes/manifests/etcd.yaml" })).toEqual(["FileAvailable--etc-kubernetes-manifests-etcd.yaml:error:fail"]);
    expect(failed({ dir__var_lib_etcd: "not-empty" })).toEqual(["DirAvailable--var-lib-etcd:error:fail"]);
    expect(failed({ bins_missing: "iptables socat" })).toEqual(["FileExisting-iptables:error:fail", "FileExisting-socat:warning:fail"]);
    expect(failed({ ip_forward: "0" })).toEqual(["FileContent--proc-sys-net-ipv4-ip_forward:error:fail"]);
    expect(failed({ cri: "failed", cri_detail: "no socket" })).toEqual(["CRI:error:fail"]);
    expect(failed({ cpus: "1", memory_mb: "1024" })).toEqual(["NumCPU:error:fail", "Mem:error:fail"]);
    expect(failed({ cpus: "1" }, context({ role: "worker" }))).toEqual([]);
    expect(failed({ uid: "1000" })).toEqual(["IsPrivilegedUser:error:fail"]);
    // Where kubeadm only warns, so does kpki: swap, an upper-case or unresolvable host name, a kubelet not enabled, firewalld.
    const warnings = results({ swaps: "1", hostname: "CP-1", hostname_resolves: "no", kubelet_service: "disabled", firewalld: "active", firewalld_ports: "" });
    expect(warnings.filter((result) => result.status !== "pass").map((result) => `${result.name}:${result.severity}`)).toEqual(["Firewalld:warning", "Swap:warning", "Hostname:warning", "Service-Kubelet:warning"]);
    expect(warnings.some(blocks)).toBe(false);
    expect(failed({ firewalld: "active", firewalld_ports: "6443/tcp 10250-10252/tcp" })).toEqual([]);
  });

  it("KubeletVersion is kubeadm's rule: three minors below kubeadm's own, never above the control plane or kubeadm; the rest are warnings", () => {
    const ctx = context({ kubernetes: resolveKubernetesVersion("1.32") });
    const kubelet = (version: string, kubeadm = "v1.32.4") => results({ kubelet_version: `Kubernetes ${version}`, kubeadm_version: kubeadm }, ctx).find((result) => result.name === "KubeletVersion")!;
    expect(kubelet("v1.29.9")).toMatchObject({ severity: "warning", status: "fail" });
    expect(kubelet("v1.28.9")).toMatchObject({ severity: "error", detail: expect.stringMatching(/^Kubelet version "v1\.28\.9" is lower than kubeadm can support/) });
    // The minimum follows kubeadm's version, not the target's: kubeadm 1.33 accepts 1.30.
    expect(kubelet("v1.29.9", "v1.33.0").severity).toBe("error");
    expect(kubelet("v1.33.0")).toMatchObject({ severity: "error", detail: expect.stringMatching(/^the kubelet version is higher than the control plane version/) });
    expect(kubelet("v1.32.4", "v1.31.2")).toMatchObject({ severity: "error", detail: expect.stringMatching(/newer than kubeadm v1\.31\.2/) });
    expect(kubelet("v1.32.1").detail).toBe("kubelet v1.32.1 and kubeadm v1.32.4 differ: install both at 1.32");
    // Ignored by name or all, its error is a warning and the host is ready as far as kubeadm is concerned.
    const known = knownCheckNames({ kubernetes: ctx.kubernetes, apiserverPort: 6443, serviceCidr: "10.96.0.0/12" });
    for (const ignore of [["KubeletVersion"], ["all"]]) {
      const judged = results({ kubelet_version: "Kubernetes v1.33.0", kubeadm_version: "v1.33.0" }, ctx, parseIgnorePreflightErrors(ignore, known));
      expect(judged.find((result) => result.name === "KubeletVersion")?.status).toBe("ignored");
      expect(judged.some(blocks)).toBe(false);
    }
  });

  it("checks the versions against the target and each other", () => {
    expect(failed({ kubelet_version: "" })).toEqual(["KubeletVersion:error:fail"]);
    expect(failed({ kubelet_version: "Kubernetes v1.34.0", kubeadm_version: "v1.34.0" })).toEqual(["KubeletVersion:error:fail"]);
    expect(failed({ kubelet_version: "Kubernetes v1.29.9" })).toEqual(["KubeletVersion:error:fail"]);
    expect(failed({ kubelet_version: "Kubernetes v1.31.0" })).toEqual(["KubeletVersion:warning:fail"]);
    expect(failed({ kubeadm_version: "v1.32.5" })).toEqual(["KubernetesVersion:warning:fail", "KubeletVersion:error:fail"]);
    expect(failed({ kubeadm_version: "" })).toEqual(["KubernetesVersion:error:fail"]);
    expect(failed({ kubelet_version: "Kubernetes v1.33.1" }, context({ kubernetes: resolveKubernetesVersion("1.33.2") }))).toEqual(["KubeletVersion:warning:fail"]);
  });

  it("SystemVerification: the kernel by kubeadm's release rules; cgroup v1 a warning, an error from 1.35", () => {
    expect(failed({ kernel: "4.18.0-553.el8.x86_64" })).toEqual(["SystemVerification:error:fail"]);
    const v131 = { kubelet_version: "Kubernetes v1.31.4", kubeadm_version: "v1.31.4" };
    expect(failed({ ...v131, kernel: "4.18.0-553.el8.x86_64" }, context({ kubernetes: resolveKubernetesVersion("1.31") }))).toEqual([]);
    expect(failed({ ...v131, kernel: "3.10.0-1160.el7.x86_64" }, context({ kubernetes: resolveKubernetesVersion("1.31") }))).toEqual([]);
    expect(failed({ ...v131, kernel: "3.9.0" }, context({ kubernetes: resolveKubernetesVersion("1.31") }))).toEqual(["SystemVerification:error:fail"]);
    expect(failed({ kernel: "4.19.0-27-amd64" })).toEqual([]);
    const v1 = { cgroupfs: "tmpfs", cgroup_controllers: "cpuset cpu cpuacct blkio memory devices freezer net_cls perf_event pids" };
    expect(failed({ ...v1, kubelet_version: "Kubernetes v1.34.0", kubeadm_version: "v1.34.0" }, context({ kubernetes: resolveKubernetesVersion("1.34") }))).toEqual(["SystemVerification:warning:fail"]);
    expect(failed({ ...v1, kubelet_version: "Kubernetes v1.35.0", kubeadm_version: "v1.35.0" }, context({ kubernetes: resolveKubernetesVersion("1.35") }))).toEqual(["SystemVerification:error:fail"]);
    expect(failed({ cgroup_controllers: "cpuset cpu memory" })).toEqual(["SystemVerification:error:fail"]);
  });

  it("SystemVerification reads the kernel's config as system-validators do: required options an error, optional ones only named beside", () => {
    const without = (...names: string[]) => ({ kernel_config_options: GOOD.kernel_config_options!.split(" ").filter((entry) => !names.some((name) => entry.startsWith(`CONFIG_${name}=`))).join(" ") });
    const of = (facts: Record<string, string>) => results(facts).find((result) => result.name === "SystemVerification")!;
    expect(of(without("NETFILTER_XT_MATCH_COMMENT"))).toMatchObject({ severity: "error", status: "fail", detail: "unexpected kernel config: CONFIG_NETFILTER_XT_MATCH_COMMENT (/proc/config.gz)" });
    // An alias counts (IP_NF_TARGET_REDIRECT for NETFILTER_XT_TARGET_REDIRECT); =m counts; =n is disabled; when neither name is there the last one is named.
    expect(failed(without("NETFILTER_XT_TARGET_REDIRECT"))).toEqual([]);
    expect(of(without("NETFILTER_XT_TARGET_REDIRECT", "IP_NF_TARGET_REDIRECT")).detail).toBe("unexpected kernel config: CONFIG_IP_NF_TARGET_REDIRECT (/proc/config.gz)");
    expect(failed({ kernel_config_options: `${without("MEMCG").kernel_config_options} CONFIG_MEMCG=m` })).toEqual([]);
    expect(of({ kernel_config_options: `${without("PID_NS").kernel_config_options} CONFIG_PID_NS=n` }).detail).toBe("unexpected kernel config: CONFIG_PID_NS (/proc/config.gz)");
    // The cgroup options follow the host's cgroup version: CGROUP_BPF only on v2, CGROUP_DEVICE only on v1.
    expect(failed(without("CGROUP_DEVICE"))).toEqual([]);
    expect(of(without("CGROUP_BPF")).detail).toBe("unexpected kernel config: CONFIG_CGROUP_BPF (/proc/config.gz)");
    // An optional option is named only beside a required one, as kubeadm prints its verification output only when the check fails.
    expect(failed(without("SECCOMP_FILTER", "AUFS_FS"))).toEqual([]);
    expect(of(without("SECCOMP_FILTER", "AUFS_FS", "MEMCG")).detail).toBe("unexpected kernel config: CONFIG_MEMCG (/proc/config.gz; optional: CONFIG_AUFS_FS: not set - Required for aufs., CONFIG_SECCOMP_FILTER: not set - Required for seccomp mode 2.)");
    // Nowhere to read it, the configs module not there, a file that does not decompress: kubeadm's error each time.
    expect(of({ kernel_config: "none", kernel_config_detail: "/proc/config.gz /boot/config-6.1.0" }).detail).toBe("failed to parse kernel config: no config path in [/proc/config.gz /boot/config-6.1.0] is available");
    expect(of({ kernel_config: "modprobe-failed", kernel_config_detail: "modprobe: FATAL: Module configs not found" })).toMatchObject({ severity: "error", detail: expect.stringMatching(/unable to load kernel module: "configs".*Module configs not found/) });
    expect(of({ kernel_config: "unreadable", kernel_config_path: "/proc/config.gz", kernel_config_detail: "gzip: stdin: not in gzip format" }).severity).toBe("error");
  });

  it("kpki's own checks: modules, bridge sysctls, SELinux (a warning), the runtime's cgroup driver", () => {
    expect(failed({ modules_loaded: "overlay", bridge_nf_call_iptables: "", bridge_nf_call_ip6tables: "" })).toEqual(["Modules:error:fail", "BridgeNetfilter:error:fail"]);
    expect(failed({ selinux: "Enforcing" })).toEqual(["SELinux:warning:fail"]);
    expect(failed({ containerd_systemd_cgroup: "unset" })).toEqual(["CgroupDriver:error:fail"]);
    expect(failed({ containerd_systemd_cgroup: "false", kubelet_cgroup_driver: "cgroupfs" })).toEqual([]);
    // Behind cri-dockerd it is Docker's driver (docker info) that must match, whatever containerd's says.
    const docker = (facts: Record<string, string>) => results({ cri_socket: "unix:///var/run/cri-dockerd.sock", containerd_systemd_cgroup: "false", ...facts }).find((result) => result.name === "CgroupDriver")!;
    expect(docker({ docker_cgroup_driver: "systemd" }).status).toBe("pass");
    expect(docker({ docker_cgroup_driver: "cgroupfs" })).toMatchObject({ severity: "error", status: "fail", detail: expect.stringMatching(/^Docker uses the cgroupfs cgroup driver \(docker info\), the kubelet systemd \(kubeadm's default\).*native\.cgroupdriver=systemd/) });
    expect(docker({ docker_cgroup_driver: "unknown", docker_cgroup_detail: "Cannot connect to the Docker daemon" })).toMatchObject({ severity: "warning", status: "fail" });
    expect(results({}).filter((result) => result.source === "kpki").map((result) => result.name)).toEqual(["Modules", "BridgeNetfilter", "SELinux", "CgroupDriver"]);
  });

  it("proxies as Go's net/http chooses them: NO_PROXY by IP, CIDR, domain suffix or *", () => {
    const facts = (noProxy: string) => ({ proxy_HTTPS_PROXY: "http://proxy.example:3128", proxy_NO_PROXY: noProxy });
    expect(proxyFor("10.96.0.1", facts(""))).toBe("http://proxy.example:3128");
    expect(proxyFor("10.96.0.1", facts("10.0.0.0/8"))).toBeUndefined();
    expect(proxyFor("10.96.0.1", facts("10.96.0.1"))).toBeUndefined();
    expect(proxyFor("api.cluster.example", facts(".cluster.example"))).toBeUndefined();
    expect(proxyFor("api.cluster.example", facts("cluster.example"))).toBeUndefined();
    expect(proxyFor("api.other.example", facts("cluster.example"))).toBe("http://proxy.example:3128");
    expect(proxyFor("fd00::1", facts("fd00::/64"))).toBeUndefined();
    expect(proxyFor("anything", facts("*"))).toBeUndefined();
    expect(proxyFor("10.96.0.1", {})).toBeUndefined();
    expect(failed(facts("192.0.2.11"))).toEqual(["HTTPProxyCIDR:warning:fail"]);
    expect(failed(facts("192.0.2.11,10.96.0.0/12"))).toEqual([]);
    expect(failed(facts(""), context({ role: "worker", endpointHost: "lb.example" }))).toEqual(["HTTPProxy:warning:fail"]);
    // Beyond kubeadm: the proxy systemd gives containerd or the kubelet, named with where it was found.
    const unit = results({ proxy_containerd_HTTPS_PROXY: "http://proxy.example:3128", proxy_containerd_NO_PROXY: "192.0.2.11" }).find((result) => result.name === "HTTPProxyCIDR")!;
    expect(unit).toMatchObject({ severity: "warning", status: "fail" });
    expect(unit.detail).toMatch(/^connection to "10\.96\.0\.0\/12" uses proxy "http:\/\/proxy\.example:3128" \(set in containerd\.service's Environment= \(unit and drop-ins\)\)/);
    expect(failed({ proxy_kubelet_HTTPS_PROXY: "http://proxy.example:3128", proxy_kubelet_NO_PROXY: "10.96.0.0/12" })).toEqual(["HTTPProxy:warning:fail"]);
    expect(failed({ proxy_kubelet_HTTPS_PROXY: "http://proxy.example:3128", proxy_kubelet_NO_PROXY: "10.96.0.0/12,192.0.2.0/24" })).toEqual([]);
    expect([firstAddress("10.96.0.0/12"), firstAddress("fd00:10:96::/112"), firstAddress("10.96.0.0")]).toEqual(["10.96.0.1", "fd00:10:96:0:0:0:0:1", undefined]);
  });
});

describe("--ignore-preflight-errors, as kubeadm's flag", () => {
  const known = knownCheckNames({ kubernetes: resolveKubernetesVersion("1.33"), apiserverPort: 6443, serviceCidr: "10.96.0.0/12" }, FLEET_CHECK_NAMES);

  it("turns exactly the named errors into warnings: names case-insensitive, comma-separated or repeated", () => {
    const ignore = parseIgnorePreflightErrors(["port-6443,CRI", "DirAvailable--var-lib-etcd"], known);
    expect(failed({ listening: "6443 10250", cri: "failed", dir__var_lib_etcd: "not-empty" }, context(), ignore)).toEqual([
      "Port-6443:error:ignored", "CRI:error:ignored", "Port-10250:error:fail", "DirAvailable--var-lib-etcd:error:ignored",
    ]);
    const all = parseIgnorePreflightErrors(["all"], known);
    expect(results({ listening: "6443", cri: "failed" }, context(), all).some(blocks)).toBe(false);
    // A name kubeadm knows but kpki cannot check from outside is accepted, so one list serves both tools.
    expect(() => parseIgnorePreflightErrors(["ImagePull,Swap,FileExisting-conntrack,ClockSkew"], known)).not.toThrow();
  });

  it("refuses all with other names, and a name no check has (kubeadm ignores a typo silently)", () => {
    expect(() => parseIgnorePreflightErrors(["all,Swap"], known)).toThrow(/don't specify individual checks if 'all' is used/);
    expect(() => parseIgnorePreflightErrors(["Prot-6443"], known)).toThrow(/no check named prot-6443 \(did you mean Port-6443\?\)/);
    expect(() => parseIgnorePreflightErrors(["Port-8443"], known)).toThrow(/no check named port-8443/);
  });
});

describe("fleet checks", () => {
  const host = (name: string, facts: Record<string, string>, clock = 1_000) => ({ host: name, facts: { clock: String(clock), ...facts }, sentAt: 1_000_000, receivedAt: 1_000_500 });

  it("names every host that shares a product_uuid, machine-id, MAC or host name", () => {
    const fleet = fleetChecks([
      host("a", { product_uuid: "4C4C4544-0042", machine_id: "m1", macs: "eth0=52:54:00:12:34:56", hostname: "node" }),
      host("b", { product_uuid: "4c4c4544-0042", machine_id: "m1", macs: "eth0=52:54:00:aa:bb:cc eth1=52:54:00:12:34:56", hostname: "NODE" }),
      host("c", { product_uuid: "other", machine_id: "m3", macs: "eth0=52:54:00:00:00:01", hostname: "c" }),
    ]);
    for (const name of ["a", "b"]) {
      expect(fleet.get(name)!.map((result) => result.name), name).toEqual(["DuplicateProductUUID", "DuplicateMachineID", "DuplicateMAC", "DuplicateHostname"]);
      for (const result of fleet.get(name)!) expect(result.detail).toContain("shared by a, b");
    }
    expect(fleet.get("c")).toEqual([]);
  });

  it("measures clock skew against the window the host read its clock in; more than 30 s is an error", () => {
    expect(clockSkew(host("a", {}, 1_000.2))).toBe(0);
    expect(clockSkew(host("a", {}, 1_120.5))).toBeCloseTo(120, 3);
    expect(clockSkew(host("a", {}, 880))).toBeCloseTo(-120, 3);
    const fleet = fleetChecks([host("ok", {}, 1_020), host("late", {}, 900)]);
    expect(fleet.get("ok")).toEqual([]);
    expect(fleet.get("late")![0]).toMatchObject({ name: "ClockSkew", severity: "error" });
    expect(fleet.get("late")![0]!.detail).toMatch(/100 s behind/);
  });
});

describe("push-pki's plan by role", () => {
  const pem = (kind: string) => Buffer.from(`-----BEGIN ${kind}-----\nAAAA\n-----END ${kind}-----\n`);
  const names = ["ca.crt", "ca.key", "apiserver.crt", "apiserver.key", "apiserver-kubelet-client.crt", "apiserver-kubelet-client.key", "front-proxy-ca.crt", "front-proxy-ca.key",
    "front-proxy-client.crt", "front-proxy-client.key", "sa.key", "sa.pub", "etcd/ca.crt", "etcd/ca.key", "etcd/server.crt", "etcd/server.key", "etcd/peer.crt", "etcd/peer.key"];
  const local: LocalClusterFiles = {
    pkiDir: "/pki",
    pki: new Map(names.map((name) => [name, pem(name.endsWith(".key") ? "RSA PRIVATE KEY" : "CERTIFICATE")])),
    kubeconfigs: new Map(["admin.conf", "super-admin.conf", "controller-manager.conf", "scheduler.conf", "kubelet.conf"].map((name) => [name, Buffer.from("kind: Config\n")])),
  };
  const plan = (options: Partial<Parameters<typeof planPush>[1]>) => planPush(local, { role: "worker", target: "/etc/kubernetes/pki", kubeconfigs: false, ...options });

  it("gives the first control plane everything, a joining one only the shared CA material, a worker nothing under pki", () => {
    expect(plan({ role: "control-plane-init" }).map((file) => file.path)).toEqual(names.map((name) => `/etc/kubernetes/pki/${name}`));
    expect(plan({ role: "control-plane" }).map((file) => file.path)).toEqual(SHARED_PKI_FILES.map((name) => `/etc/kubernetes/pki/${name}`));
    expect(plan({ role: "worker" })).toEqual([]);
    expect(plan({ role: "control-plane", kubeconfigs: true }).map((file) => file.path).filter((file) => file.endsWith(".conf"))).toEqual(["/etc/kubernetes/admin.conf"]);
    expect(plan({ role: "control-plane-init", kubeconfigs: true }).filter((file) => file.path.endsWith(".conf"))).toHaveLength(5);
    const modes = Object.fromEntries(plan({ role: "control-plane-init", kubeconfigs: true }).map((file) => [file.path, file.mode.toString(8)]));
    expect([modes["/etc/kubernetes/pki/ca.crt"], modes["/etc/kubernetes/pki/ca.key"], modes["/etc/kubernetes/pki/sa.pub"], modes["/etc/kubernetes/admin.conf"]]).toEqual(["644", "600", "600", "600"]);
  });

  it("never gives a worker a key or a PKI file, whatever the flags", () => {
    const worker = plan({ role: "worker", kubeconfigs: true, discovery: { path: "/etc/kubernetes/discovery.conf", server: "https://192.0.2.10:6443" } });
    expect(worker.map((file) => file.path)).toEqual(["/etc/kubernetes/discovery.conf"]);
    expect(worker[0]!.data.toString()).not.toMatch(/PRIVATE KEY|client-key|token/);
    expect(() => plan({ role: "worker", only: ["ca.key"] })).toThrow(/a worker gets nothing under/);
    expect(() => plan({ role: "worker", only: ["ca.crt"] })).toThrow(/a worker gets nothing under/);
    expect(() => plan({ role: "control-plane", only: ["apiserver.crt"] })).toThrow(/another node's certificates/);
    expect(plan({ role: "control-plane", only: ["ca.crt"] }).map((file) => file.path)).toEqual(["/etc/kubernetes/pki/ca.crt"]);
  });
});
