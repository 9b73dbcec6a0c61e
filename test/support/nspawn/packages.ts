/**
 * Where an nspawn host's container runtime and kubelet come from: the one
 * switch. Default: nothing (a bare Debian 12); kpki's packages step installs
 * them with the host's real apt from the signed test repositories
 * (test/support/repos), given as `--package-mirror URL --package-mirror-key
 * FILE` and served on the host's bridge (test/e2e/nspawn.test.ts).
 * `{ nodePackages: { kubeletVersion } }` still builds the older image with
 * them preinstalled (node-packages.sh: Debian's containerd and a kubelet
 * stand-in), for a test that wants a host without the packages step.
 */
import { NEWEST_MINOR } from "../../../src/bootstrap/node/versions.js";
import type { RootfsRecipe } from "./rootfs.js";

/** The kubelet version the stand-in reports (`kubelet --version`). */
export const STAND_IN_KUBELET_VERSION = `${NEWEST_MINOR}.0`;

export function defaultRecipe(): RootfsRecipe {
  return {};
}
