/**
 * Local, signed package repositories standing in for pkgs.k8s.io, Docker's
 * repository and a Debian distribution mirror, laid out as a kpki
 * --package-mirror expects (MIRROR/kubernetes/…, MIRROR/docker/…), served
 * over http on the test bridge with a request log.
 *
 *   const repos = await buildTestRepos(dir);                // once per test file: ~10 s
 *   const server = await serveRepos(repos.root, lab.subnet.gateway);
 *   // kpki node prep … --package-mirror server.url --package-mirror-key repos.keyFile
 *   server.requests();                                      // [{ method, path, status, from }]
 *   await server.close();
 */
import { createReadStream, promises as fs } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { debianContainerd, dockerContainerd, kubernetesPackages } from "./catalogue.js";
import { buildDeb, indexDebRepo } from "./deb.js";
import { makeKey, stopAgent } from "./gpg.js";
import { buildRpm, indexRpmRepo, signRpms } from "./rpm.js";

export { containerdAvailable, rhelBase, CRICTL_STANDIN, type PackageSpec } from "./catalogue.js";
export { buildRpm } from "./rpm.js";

export interface TestRepos {
  /** Served as the mirror's root. */
  root: string;
  /** The key that signs every repository, armored, and a file holding it (for --package-mirror-key). */
  key: string;
  keyFile: string;
  /** A key that signs nothing here: the "wrong key" cases. */
  wrongKeyFile: string;
  /** Kubernetes versions held, e.g. ["1.32.5", "1.33.1", "1.33.2"]. */
  versions: string[];
  /** The Debian distribution repository's path below root (a host's own sources name it). */
  debianPath: string;
}

export interface RepoOptions {
  /** Kubernetes versions to hold, each in its minor's repository. */
  versions?: string[];
  /** EL releases Docker's repository serves here. */
  releasevers?: string[];
}

const MINOR = (version: string) => version.split(".").slice(0, 2).join(".");

/** Builds every repository under dir/repos (dir/work is scratch, removed). */
export async function buildTestRepos(dir: string, options: RepoOptions = {}): Promise<TestRepos> {
  const versions = options.versions ?? ["1.32.5", "1.33.1", "1.33.2"];
  const releasevers = options.releasevers ?? ["7", "9"];
  const root = path.join(dir, "repos");
  const work = path.join(dir, "work");
  await fs.mkdir(work, { recursive: true });
  const [key, wrong] = await Promise.all([makeKey(dir, "repos"), makeKey(dir, "wrong")]);
  try {
    const jobs: Promise<unknown>[] = [];
    const rpms: Promise<string>[] = [];
    const rpmDirs: string[] = [];
    const debDirs: string[] = [];
    for (const minor of [...new Set(versions.map(MINOR))]) {
      const base = path.join(root, "kubernetes", "core:", "stable:", `v${minor}`);
      const debDir = path.join(base, "deb");
      const rpmDir = path.join(base, "rpm");
      await Promise.all([fs.mkdir(debDir, { recursive: true }), fs.mkdir(rpmDir, { recursive: true })]);
      debDirs.push(debDir);
      rpmDirs.push(rpmDir);
      // cri-tools is one version per minor: each package is built once.
      const built = new Set<string>();
      for (const version of versions.filter((candidate) => MINOR(candidate) === minor)) {
        for (const spec of kubernetesPackages(version, "deb")) {
          if (!built.has(`deb ${spec.name} ${spec.version}`)) jobs.push(buildDeb(work, debDir, spec));
          built.add(`deb ${spec.name} ${spec.version}`);
        }
        for (const spec of kubernetesPackages(version, "rpm")) {
          if (!built.has(`rpm ${spec.name} ${spec.version}`)) rpms.push(buildRpm(work, rpmDir, spec));
          built.add(`rpm ${spec.name} ${spec.version}`);
        }
      }
    }
    const debian = path.join(root, "debian");
    await fs.mkdir(debian, { recursive: true });
    debDirs.push(debian);
    jobs.push(buildDeb(work, debian, debianContainerd()));
    const dockerBase = path.join(root, "docker", "linux", "centos");
    for (const releasever of releasevers) {
      const stable = path.join(dockerBase, releasever, "x86_64", "stable");
      await fs.mkdir(stable, { recursive: true });
      rpmDirs.push(stable);
      rpms.push(buildRpm(work, stable, dockerContainerd(releasever)));
    }
    await fs.writeFile(path.join(dockerBase, "gpg"), key.armored);
    await Promise.all(jobs);
    await signRpms(await Promise.all(rpms), key, work);
    await Promise.all([...debDirs.map((repo) => indexDebRepo(repo, key)), ...rpmDirs.map((repo) => indexRpmRepo(repo, key))]);
    const keyFile = path.join(dir, "repos.asc");
    const wrongKeyFile = path.join(dir, "wrong.asc");
    await fs.writeFile(keyFile, key.armored);
    await fs.writeFile(wrongKeyFile, wrong.armored);
    return { root, key: key.armored, keyFile, wrongKeyFile, versions, debianPath: "debian" };
  } finally {
    await Promise.all([stopAgent(key), stopAgent(wrong)]);
    await fs.rm(work, { recursive: true, force: true });
  }
}

/** The files a Debian-family host needs to use the distribution repository, as its own sources. */
export function debianSourceFiles(repos: TestRepos, url: string): Record<string, string> {
  return {
    "/etc/apt/sources.list.d/distribution.list": `deb [signed-by=/usr/share/keyrings/kpki-test-distribution.asc] ${url}/${repos.debianPath}/ /\n`,
    "/usr/share/keyrings/kpki-test-distribution.asc": repos.key,
  };
}

export interface RepoRequest {
  method: string;
  /** Decoded path, e.g. /kubernetes/core:/stable:/v1.33/deb/InRelease. */
  path: string;
  status: number;
  /** The client's address (a test host's). */
  from: string;
}

export interface RepoServer {
  /** http://ADDRESS:PORT, no trailing slash. */
  url: string;
  requests(): RepoRequest[];
  clearLog(): void;
  close(): Promise<void>;
}

/** Serves `root` read-only over http on `address` (a bridge address), logging every request. */
export async function serveRepos(root: string, address: string): Promise<RepoServer> {
  const log: RepoRequest[] = [];
  const server = http.createServer((request, response) => {
    let status = 404;
    const finish = () => log.push({ method: request.method ?? "?", path: decoded, status, from: request.socket.remoteAddress ?? "?" });
    let decoded = request.url ?? "/";
    try {
      decoded = decodeURIComponent(new URL(request.url ?? "/", "http://x").pathname);
    } catch {
      // logged as given
    }
    const file = path.join(root, path.normalize(decoded));
    if (!file.startsWith(root + path.sep) || (request.method !== "GET" && request.method !== "HEAD")) {
      response.writeHead((status = 404)).end();
      finish();
      return;
    }
    fs.stat(file).then(
      (stat) => {
        if (!stat.isFile()) throw new Error("not a file");
        status = 200;
        response.writeHead(200, { "content-length": stat.size, "last-modified": stat.mtime.toUTCString(), "content-type": "application/octet-stream" });
        finish();
        if (request.method === "HEAD") response.end();
        else createReadStream(file).pipe(response);
      },
      () => {
        response.writeHead(404, { "content-length": 0 }).end();
        finish();
      },
    ).catch(() => {
      response.writeHead(404, { "content-length": 0 }).end();
      finish();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, address, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${address}:${port}`,
    requests: () => [...log],
    clearLog: () => void log.splice(0),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
