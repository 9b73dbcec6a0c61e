import { KpkiError } from "../../errors.js";
import type { KubernetesTarget } from "./versions.js";

/**
 * Where the packages step installs from, and how: the Kubernetes repository
 * of the target minor (pkgs.k8s.io, one per minor), Docker's repository for
 * containerd.io on the RHEL family, or a mirror that holds both under one URL.
 */
export interface PackageOptions {
  /** false (--no-install): only report what is missing, as before kpki installed anything. */
  install: boolean;
  /** Allow changing the version of an installed Kubernetes package (--upgrade). */
  upgrade: boolean;
  /** Replaces every upstream URL (--package-mirror): MIRROR/kubernetes/… and MIRROR/docker/…. */
  mirror?: string;
  /** The mirror's signing key, ASCII-armored (--package-mirror-key's content). */
  mirrorKey?: string;
}

export const DEFAULT_PACKAGE_OPTIONS: PackageOptions = { install: true, upgrade: false };

/** The upstream hosts and the folder each gets on a mirror (the mirror keeps upstream's paths below it). */
const UPSTREAMS = {
  kubernetes: "https://pkgs.k8s.io",
  docker: "https://download.docker.com",
} as const;

/** The Kubernetes packages kpki installs at the target version and holds (kubeadm depends on the others). */
export const KUBERNETES_PACKAGES = ["kubelet", "kubeadm", "kubectl", "cri-tools"] as const;

export interface PackageSources {
  /** Flat Debian repository of the minor, its armored key. */
  kubernetesDeb: { url: string; key: string };
  /** RPM repository of the minor, its key. */
  kubernetesRpm: { url: string; key: string };
  /** Docker's RPM repositories: DISTRO, $releasever and $basearch filled in on the host. */
  dockerRpm: { url: string; key: string };
}

/** The URLs a host uses for the target, upstream or on the mirror. */
export function packageSources(target: KubernetesTarget, mirror?: string): PackageSources {
  const base = (name: keyof typeof UPSTREAMS) => (mirror ? `${mirror.replace(/\/+$/, "")}/${name}` : UPSTREAMS[name]);
  const minor = `${base("kubernetes")}/core:/stable:/v${target.minor}`;
  const docker = `${base("docker")}/linux`;
  return {
    kubernetesDeb: { url: `${minor}/deb/`, key: `${minor}/deb/Release.key` },
    kubernetesRpm: { url: `${minor}/rpm/`, key: `${minor}/rpm/repodata/repomd.xml.key` },
    dockerRpm: { url: `${docker}/DISTRO/$releasever/$basearch/stable`, key: `${docker}/DISTRO/gpg` },
  };
}

/** --package-mirror: an http(s) or file URL, nothing a shell or a repository file could misread. */
export function checkMirrorUrl(text: string, flag = "--package-mirror"): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new KpkiError("usage", `${flag} "${text}" is not a URL: give the mirror's base, e.g. http://mirror.example/k8s`);
  }
  if (!["http:", "https:", "file:"].includes(url.protocol)) throw new KpkiError("usage", `${flag} ${text}: give an http://, https:// or file:// URL`);
  if (/[\s'"`$\\;&|<>]/.test(text)) throw new KpkiError("usage", `${flag} ${text}: the URL may not hold spaces, quotes or shell characters`);
  return text.replace(/\/+$/, "");
}

const ARMOR = /^-----BEGIN PGP PUBLIC KEY BLOCK-----\r?\n[\s\S]+?\r?\n-----END PGP PUBLIC KEY BLOCK-----\r?\n?$/;

/** --package-mirror-key's content: one ASCII-armored OpenPGP public key (what apt's .asc keyrings and rpm both read). */
export function checkMirrorKey(text: string, where: string): string {
  const trimmed = text.trim() + "\n";
  if (!ARMOR.test(trimmed)) {
    throw new KpkiError("input", `${where} is not an ASCII-armored OpenPGP public key (-----BEGIN PGP PUBLIC KEY BLOCK-----): export it with gpg --armor --export`);
  }
  return trimmed;
}
