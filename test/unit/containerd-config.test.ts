/**
 * The containerd step's awk program (templates/node/containerd.sh) on
 * containerd 2.x's config version 3, whose CRI lives in
 * io.containerd.cri.v1.images / io.containerd.cri.v1.runtime and whose dump
 * quotes with single quotes (go-toml v2). Version 2 (containerd 1.x) is
 * proven end to end with the real containerd in test/e2e/runtime.test.ts;
 * no containerd 2 binary exists here, so version 3 is checked on text shaped
 * like its dump, with the result parsed by a TOML parser.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { parse as parseToml } from "smol-toml";
import { describe, expect, it } from "vitest";

const script = readFileSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../templates/node/containerd.sh"), "utf8");
const program = /^CONTAINERD_AWK='([\s\S]*?)'$/m.exec(script)![1]!;
const IMAGE = "registry.k8s.io/pause:3.10.1";

// containerd 2.x dump of a config that disabled the CRI image service and set a registry mirror path.
const DUMP_V3 = `disabled_plugins = ['io.containerd.cri.v1.images', 'io.containerd.tracing.processor.v1.otlp']
imports = ['/etc/containerd/config.toml']
required_plugins = []
root = '/var/lib/containerd'
state = '/run/containerd'
version = 3

[grpc]
  address = '/run/k8s/containerd.sock'
  gid = 0

[plugins]
  [plugins.'io.containerd.cri.v1.runtime']
    enable_selinux = false

    [plugins.'io.containerd.cri.v1.runtime'.containerd]
      default_runtime_name = 'runc'

      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes]
        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
          runtime_type = 'io.containerd.runc.v2'

          [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
            BinaryName = ''
            SystemdCgroup = false
`;
// containerd 2.x \`config default\`, the sections that matter.
const DEFAULT_V3 = `version = 3
root = '/var/lib/containerd'

[plugins]
  [plugins.'io.containerd.cri.v1.images']
    snapshotter = 'overlayfs'

    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = 'registry.k8s.io/pause:3.10'

    [plugins.'io.containerd.cri.v1.images'.registry]
      config_path = ''

  [plugins.'io.containerd.cri.v1.runtime']
    enable_selinux = false

    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
      SystemdCgroup = false
`;

async function awk(mode: "check" | "write", files: Record<string, string>): Promise<string> {
  const { tmpdir } = await import("node:os");
  const { mkdtemp, writeFile, rm } = await import("node:fs/promises");
  const dir = await mkdtemp(path.join(tmpdir(), "kpki-awk-"));
  try {
    const paths = [];
    for (const [name, text] of Object.entries(files)) {
      paths.push(path.join(dir, name));
      await writeFile(paths.at(-1)!, text);
    }
    const vars = ["-v", `mode=${mode}`, "-v", "version=3", "-v", `image=${IMAGE}`, "-v", "minor=1.34", "-v", "self=/etc/containerd/config.toml"];
    return (await execa("awk", [...vars, program, ...paths])).stdout;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe("the containerd step on config version 3 (containerd 2.x)", () => {
  it("names every problem, in containerd 2's section names, and the CRI socket", async () => {
    expect((await awk("check", { dump: DUMP_V3 })).split("; ")).toEqual([
      "/run/k8s/containerd.sock the CRI plugin is disabled (disabled_plugins: io.containerd.cri.v1.images)",
      // The image service's settings are absent with it; a value that is there and wrong is still named.
      "SystemdCgroup is false (kubeadm gives the kubelet the systemd cgroup driver)",
    ]);
  });

  it("writes the dump with CRI on, SystemdCgroup true, the sandbox image pinned, missing sections from the defaults, the operator's settings kept", async () => {
    const written = await awk("write", { dump: DUMP_V3, default: DEFAULT_V3 });
    const config = parseToml(written) as Record<string, any>;
    expect(config.version).toBe(3);
    expect(config.disabled_plugins).toEqual(["io.containerd.tracing.processor.v1.otlp"]);
    expect(config.imports).toEqual([]);
    expect(config.grpc.address).toBe("/run/k8s/containerd.sock");
    const images = config.plugins["io.containerd.cri.v1.images"];
    expect(images.pinned_images.sandbox).toBe(IMAGE);
    expect(images.snapshotter).toBe("overlayfs");
    const runc = config.plugins["io.containerd.cri.v1.runtime"].containerd.runtimes.runc;
    expect(runc.runtime_type).toBe("io.containerd.runc.v2");
    expect(runc.options).toEqual({ BinaryName: "", SystemdCgroup: true });
    // What it wrote passes its own check.
    expect(await awk("check", { dump: written })).toBe("/run/k8s/containerd.sock ");
  });

  it("adds a section neither the dump nor the defaults have", async () => {
    const written = await awk("write", { dump: "version = 3\n", default: "version = 3\n" });
    const config = parseToml(written) as Record<string, any>;
    expect(config.plugins["io.containerd.cri.v1.images"].pinned_images.sandbox).toBe(IMAGE);
    expect(config.plugins["io.containerd.cri.v1.runtime"].containerd.runtimes.runc.options.SystemdCgroup).toBe(true);
  });
});
