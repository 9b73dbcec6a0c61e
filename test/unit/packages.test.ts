import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { KpkiError } from "../../src/errors.js";
import { checkMirrorKey, checkMirrorUrl, packageSources } from "../../src/bootstrap/node/packages.js";
import { renderNodeScript } from "../../src/bootstrap/node/steps.js";
import { resolveKubernetesVersion } from "../../src/bootstrap/node/versions.js";

const target = resolveKubernetesVersion("1.33.2");
const KEY = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQENBGdummyAAAA\n=abcd\n-----END PGP PUBLIC KEY BLOCK-----\n";

describe("where the packages come from", () => {
  it("upstream: pkgs.k8s.io's repository of the minor and Docker's, with their keys", () => {
    expect(packageSources(target)).toEqual({
      kubernetesDeb: { url: "https://pkgs.k8s.io/core:/stable:/v1.33/deb/", key: "https://pkgs.k8s.io/core:/stable:/v1.33/deb/Release.key" },
      kubernetesRpm: { url: "https://pkgs.k8s.io/core:/stable:/v1.33/rpm/", key: "https://pkgs.k8s.io/core:/stable:/v1.33/rpm/repodata/repomd.xml.key" },
      dockerRpm: { url: "https://download.docker.com/linux/DISTRO/$releasever/$basearch/stable", key: "https://download.docker.com/linux/DISTRO/gpg" },
    });
  });

  it("a mirror replaces every upstream URL, keeping upstream's paths under one folder per upstream", () => {
    const sources = packageSources(target, "http://mirror.example/k8s/");
    const urls = Object.values(sources).flatMap((source) => [source.url, source.key]);
    expect(urls.every((url) => url.startsWith("http://mirror.example/k8s/"))).toBe(true);
    expect(sources.kubernetesDeb.url).toBe("http://mirror.example/k8s/kubernetes/core:/stable:/v1.33/deb/");
    expect(sources.dockerRpm.url).toBe("http://mirror.example/k8s/docker/linux/DISTRO/$releasever/$basearch/stable");
  });

  it("refuses a mirror URL that is not http(s)/file or could be misread by a shell, and a key that is not armored", () => {
    expect(checkMirrorUrl("https://mirror.example/k8s/")).toBe("https://mirror.example/k8s");
    for (const bad of ["mirror.example", "ftp://mirror.example", "http://mirror.example/a'b", "http://m/$(reboot)"]) {
      expect(() => checkMirrorUrl(bad), bad).toThrow(KpkiError);
    }
    expect(checkMirrorKey(`\n${KEY}\n`, "key.asc")).toBe(KEY);
    expect(() => checkMirrorKey("mQENBGdummy", "key.gpg")).toThrow(/key\.gpg is not an ASCII-armored OpenPGP public key/);
  });
});

describe("the packages step in the node script", () => {
  it("carries the mirror's key and URLs, and parses in sh and bash", async () => {
    const script = renderNodeScript({
      mode: "apply", role: "worker", runtime: "auto", firewall: true, ipv6: false, kubernetes: target,
      packages: { install: true, upgrade: true, mirror: "http://169.254.9.1:8080", mirrorKey: KEY },
    });
    expect(script).toContain(`PKG_MIRROR_KEY=$(cat <<'KPKI_MIRROR_KEY'\n${KEY}KPKI_MIRROR_KEY\n)`);
    expect(script).toContain("K8S_DEB_URL='http://169.254.9.1:8080/kubernetes/core:/stable:/v1.33/deb/'");
    expect(script).toMatch(/^PKG_UPGRADE=yes$/m);
    expect(script).toMatch(/^K8S_PATCH=1\.33\.2$/m);
    expect(script).not.toMatch(/https:\/\/(pkgs\.k8s\.io|download\.docker\.com)/);
    for (const shell of ["sh", "bash"]) expect((await execa(shell, ["-n"], { input: script, reject: false })).exitCode, shell).toBe(0);
  });

  it("by default installs from upstream and changes no installed version; --no-install only reports", () => {
    const base = { mode: "check", role: "worker", runtime: "auto", firewall: true, ipv6: false, kubernetes: target } as const;
    const defaults = renderNodeScript(base);
    expect(defaults).toMatch(/^PKG_INSTALL=yes$/m);
    expect(defaults).toMatch(/^PKG_UPGRADE=no$/m);
    expect(defaults).toMatch(/^PKG_MIRROR_KEY=$/m);
    expect(defaults).not.toContain("KPKI_MIRROR_KEY");
    expect(renderNodeScript({ ...base, packages: { install: false, upgrade: false } })).toMatch(/^PKG_INSTALL=no$/m);
  });
});
