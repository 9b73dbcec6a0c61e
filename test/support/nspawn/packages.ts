/**
 * Where an nspawn host's container runtime and kubelet come from: the one
 * place to change when kpki's packages step (issue 8) installs them.
 *
 * Today the image has them (node-packages.sh, run once when the rootfs is
 * built): Debian's real containerd, installed by real apt from Debian's
 * archive and left disabled, and a kubelet stand-in with pkgs.k8s.io's unit
 * files. Once the packages step and the signed test repositories are merged,
 * return {} here (a bare Debian 12) and run prep with
 * `--package-mirror URL --package-mirror-key FILE` of a repository served on
 * the host's bridge: the step then runs the real `apt-get install` inside the
 * host, under its real systemd.
 */
import { NEWEST_MINOR } from "../../../src/bootstrap/node/versions.js";
import type { RootfsRecipe } from "./rootfs.js";

/** The kubelet version the stand-in reports (`kubelet --version`). */
export const STAND_IN_KUBELET_VERSION = `${NEWEST_MINOR}.0`;

export function defaultRecipe(): RootfsRecipe {
  return { nodePackages: { kubeletVersion: STAND_IN_KUBELET_VERSION } };
}
