/**
 * The container runtime and CRI client a test host gets — in this one place
 * until the packages step (issue 8) installs them from the test repositories:
 *
 * - containerd is this machine's real binary (Debian's `containerd`, which
 *   scripts/install-peers installs), seen through the /usr overlay; the
 *   systemctl shim really runs it (conf/daemons: started in the host's PID
 *   namespace, ready when its socket exists, stopped by PID), so `crictl info`
 *   gets a real CRI answer. No container is ever run.
 * - /etc/containerd/config.toml is what the distribution's package leaves:
 *   Docker's containerd.io on the RHEL family (CRI disabled), Debian's
 *   `containerd` elsewhere. This machine's own /etc/containerd is hidden.
 * - crictl is the stand-in at test/support/crictl/crictl, at /usr/bin/crictl
 *   wherever kubelet is installed (cri-tools comes with the Kubernetes packages).
 *
 * At the merge with real package installs: drop REAL_PROGRAMS and
 * runtimeFiles (overlay.ts) and let the packages carry these files; keep
 * DAEMONS (the shim must still run the real containerd).
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Family, KnownUnit, UnitSetup } from "./flavours.js";

export const CONTAINERD_BINARY = "/usr/bin/containerd";
export const CRICTL_STANDIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../crictl/crictl");

/** Programs the machine provides for real: no version-printing stub is laid over them. */
export const REAL_PROGRAMS = new Set([CONTAINERD_BINARY]);

/**
 * Units the systemctl shim really runs: unit → what says it is ready (a path,
 * or log:TEXT for a line of its output) and its command. containerd logs this
 * line once it serves, wherever its configuration puts the socket.
 */
export const DAEMONS: Record<string, { ready: string; command: string }> = {
  "containerd.service": { ready: "log:containerd successfully booted", command: CONTAINERD_BINARY },
};

/** What each family's containerd package installs as /etc/containerd/config.toml. */
export const PACKAGED_CONTAINERD_CONFIG: Record<Family, string> = {
  // containerd.io (Docker's repository), as shipped: the CRI plugin off.
  rhel: `#   Copyright 2018-2022 Docker Inc.

#   Licensed under the Apache License, Version 2.0 (the "License");
#   you may not use this file except in compliance with the License.
#   You may obtain a copy of the License at

#       http://www.apache.org/licenses/LICENSE-2.0

#   Unless required by applicable law or agreed to in writing, software
#   distributed under the License is distributed on an "AS IS" BASIS,
#   WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
#   See the License for the specific language governing permissions and
#   limitations under the License.

disabled_plugins = ["cri"]

#root = "/var/lib/containerd"
#state = "/run/containerd"
#subreaper = true
#oom_score = 0

#[grpc]
#  address = "/run/containerd/containerd.sock"
#  uid = 0
#  gid = 0

#[debug]
#  address = "/run/containerd/debug.sock"
#  uid = 0
#  gid = 0
#  level = "info"
`,
  // Debian's containerd package.
  debian: `version = 2

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "/etc/cni/net.d"
  [plugins."io.containerd.internal.v1.opt"]
    path = "/var/lib/containerd/opt"
`,
};

/**
 * The runtime's files for a host's base layer: the packaged containerd config
 * (containerdConfig overrides it; null: none) and crictl.
 */
export function runtimeFiles(family: Family, units: Record<KnownUnit, UnitSetup>, containerdConfig?: string | null): { files: Record<string, string>; programs: Record<string, string> } {
  const files: Record<string, string> = {};
  const programs: Record<string, string> = {};
  const config = containerdConfig === undefined ? PACKAGED_CONTAINERD_CONFIG[family] : containerdConfig;
  if (units.containerd !== "absent" && config !== null) files["/etc/containerd/config.toml"] = config;
  if (units.kubelet !== "absent") programs["/usr/bin/crictl"] = readFileSync(CRICTL_STANDIN, "utf8");
  return { files, programs };
}
