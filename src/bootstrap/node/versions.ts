import { KpkiError } from "../../errors.js";

/**
 * The Kubernetes minors kpki can prepare a node for, and what each decides
 * on the node: the package repository (one per minor on pkgs.k8s.io) and
 * the sandbox (pause) image kubeadm expects (kubeadm's constants.PauseVersion
 * of that release; kubeadm warns when the runtime's differs).
 *
 * Read in kubeadm's cmd/kubeadm/app/constants/constants.go: 3.10 in the 1.31
 * and 1.32 trees (SupportedEtcdVersion up to 31 and 32); 3.10.1 in 1.35's
 * (as a tool's test fixture copies v1.35.8's constants). The rows for 1.30,
 * 1.33 and 1.34 were not read in kubeadm's source here. A newer minor is added
 * only once its constant has been read the same way: a wrong pause image is
 * only a kubeadm warning, a wrong repository URL a failed install.
 */
export const KUBERNETES_MINORS = [
  { minor: "1.30", pause: "3.9" },
  { minor: "1.31", pause: "3.10" },
  { minor: "1.32", pause: "3.10" },
  { minor: "1.33", pause: "3.10" },
  { minor: "1.34", pause: "3.10.1" },
  { minor: "1.35", pause: "3.10.1" },
] as const;

export type KubernetesMinor = (typeof KUBERNETES_MINORS)[number]["minor"];

export interface KubernetesTarget {
  minor: KubernetesMinor;
  /** A whole version ("1.33.2") when one was asked for; else the newest patch of the minor. */
  patch?: string;
  pauseImage: string;
  /** True when no version was given and kpki took the newest minor it knows. */
  defaulted: boolean;
}

export const NEWEST_MINOR = KUBERNETES_MINORS.at(-1)!.minor;

/** `1.33`, `1.33.2`, `v1.33.2` → the target; anything else is the operator's input error. */
export function resolveKubernetesVersion(text: string | undefined, flag = "--kubernetes-version"): KubernetesTarget {
  const known = KUBERNETES_MINORS.map((row) => row.minor).join(", ");
  if (text === undefined || text === "") {
    return { minor: NEWEST_MINOR, pauseImage: pauseImageOf(NEWEST_MINOR), defaulted: true };
  }
  const match = /^v?(\d+)\.(\d+)(?:\.(\d+))?$/.exec(text.trim());
  if (!match) throw new KpkiError("usage", `${flag} "${text}" is not a Kubernetes version: give MAJOR.MINOR or MAJOR.MINOR.PATCH, e.g. ${NEWEST_MINOR} (known: ${known})`);
  const minor = `${Number(match[1])}.${Number(match[2])}`;
  const row = KUBERNETES_MINORS.find((entry) => entry.minor === minor);
  if (!row) throw new KpkiError("usage", `${flag} ${text}: kpki does not know Kubernetes ${minor}; give one of ${known}`);
  return { minor: row.minor, patch: match[3] === undefined ? undefined : `${minor}.${Number(match[3])}`, pauseImage: pauseImageOf(row.minor), defaulted: false };
}

function pauseImageOf(minor: KubernetesMinor): string {
  return `registry.k8s.io/pause:${KUBERNETES_MINORS.find((row) => row.minor === minor)!.pause}`;
}
