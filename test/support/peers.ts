import { execa } from "execa";

const found = new Map<string, boolean>();

/**
 * Whether a real peer program is on PATH. On a developer's machine a missing
 * peer skips its suite with a printed reason; in CI (CI=true) it fails the
 * run, because .ci/run installs every peer.
 */
export async function havePeer(program: string, installHint: string): Promise<boolean> {
  if (!found.has(program)) {
    const result = await execa("sh", ["-c", `command -v ${program}`], { reject: false });
    found.set(program, result.exitCode === 0);
  }
  if (found.get(program)) return true;
  if (process.env.CI) throw new Error(`${program} is missing in CI: ${installHint}`);
  console.warn(`skipping: ${program} is not installed (${installHint})`);
  return false;
}

/**
 * kubectl with a private HOME (it caches discovery under ~/.kube), no
 * KUBECONFIG from the environment, a request timeout, and never a proxy for
 * the local test servers.
 */
export function kubectlWithHome(home: string) {
  return async (args: readonly string[]) => {
    const result = await execa("kubectl", ["--request-timeout", "10s", ...args], {
      reject: false,
      encoding: "utf8",
      stdin: "ignore",
      env: { HOME: home, KUBECONFIG: "", NO_PROXY: "127.0.0.1,localhost", no_proxy: "127.0.0.1,localhost" },
    });
    return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
  };
}

/** curl, returning its exit code, the HTTP status and the body exactly as received. */
export async function curl(args: readonly string[]) {
  // -q: no ~/.curlrc; --noproxy: never through a proxy from the environment.
  const result = await execa("curl", ["-q", "--silent", "--show-error", "--noproxy", "*", "--max-time", "10", "--write-out", "\n%{http_code}", ...args], {
    reject: false,
    encoding: "utf8",
    stdin: "ignore",
  });
  const stdout = String(result.stdout);
  const cut = stdout.lastIndexOf("\n");
  return { exitCode: result.exitCode ?? -1, status: Number(stdout.slice(cut + 1)), body: stdout.slice(0, cut), stderr: String(result.stderr) };
}
