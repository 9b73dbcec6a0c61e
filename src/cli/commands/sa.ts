import type { Argv } from "yargs";
import { KpkiError } from "../../errors.js";
import { printManifest } from "../manifests.js";
import { printJson, type Io } from "../io.js";
import { kubeconfigOptions, resolveKubeconfigPath } from "../kubeconfigs.js";

export function saCommand(cli: Argv, io: Io): Argv {
  return cli.command("sa", "service accounts: create one with a role, get it a token, check the token", (sa) =>
    sa
      .command(
        "create <name>",
        "create a ServiceAccount (and bind a ClusterRole to it)",
        (command) =>
          command
            .positional("name", { type: "string", demandOption: true })
            .option("namespace", { alias: "n", type: "string", default: "default" })
            .option("clusterrole", { type: "string", describe: "bind this ClusterRole (view, edit, admin, cluster-admin, …)" })
            .option("namespaced", { type: "boolean", default: false, describe: "bind in the account's namespace only (RoleBinding), not cluster-wide" })
            .option("dry-run", { type: "boolean", default: false, describe: "print the manifests instead of applying them" })
            .options(kubeconfigOptions)
            .example("$0 sa create dashboard-reader -n kube-system --clusterrole view", "the account and its ClusterRoleBinding")
            .example("$0 sa create ci --clusterrole edit --dry-run -o json", "the manifests, as JSON"),
        async (args) => {
          const [{ checkObjectName, createServiceAccount }, { serviceAccountManifest }] = await Promise.all([
            import("../../bootstrap/api/serviceaccounts.js"),
            import("../../bootstrap/api/manifests.js"),
          ]);
          const spec = {
            name: checkObjectName(args.name, "NAME"),
            namespace: checkObjectName(args.namespace, "--namespace"),
            clusterRole: args.clusterrole === undefined ? undefined : checkObjectName(args.clusterrole, "--clusterrole"),
            namespaced: args.namespaced,
          };
          if (args.dryRun) return printManifest(io, serviceAccountManifest(spec), args.output as string);
          const { targetFromKubeconfig } = await import("../../bootstrap/api/cluster.js");
          const results = await createServiceAccount(targetFromKubeconfig(resolveKubeconfigPath(args.kubeconfig), args.context), spec);
          if (args.output === "json") return printJson(io, results);
          io.stdout(results.map((result) => `${result.kind} ${result.name} ${result.action === "created" ? "created" : "exists (unchanged)"}\n`).join(""));
        },
      )
      .command(
        "token <name>",
        "get a token for a ServiceAccount (TokenRequest) and check it against the API; printed only with --print",
        (command) =>
          command
            .positional("name", { type: "string", demandOption: true })
            .option("namespace", { alias: "n", type: "string", default: "default" })
            .option("duration", { type: "string", default: "1h", describe: "how long the token lives (e.g. 10m, 1h, 24h)" })
            .option("audience", { type: "string", array: true, describe: "audiences (default: the API server's)" })
            .option("path", { type: "string", default: "/api/v1/namespaces", describe: "what to GET with the token to check it" })
            .option("print", { type: "boolean", default: false, describe: "print the token on standard output" })
            .options(kubeconfigOptions)
            .example("$0 sa token dashboard-reader -n kube-system --duration 1h --print", "a token, checked against the API, then printed"),
        async (args) => {
          const [{ checkObjectName, requestServiceAccountToken }, { targetFromKubeconfig }, { parseTtl }, { verifyToken, OUTCOME_EXIT_CODES }] = await Promise.all([
            import("../../bootstrap/api/serviceaccounts.js"),
            import("../../bootstrap/api/cluster.js"),
            import("../../bootstrap/api/token.js"),
            import("../../bootstrap/api/tokenverify.js"),
          ]);
          const name = checkObjectName(args.name, "NAME");
          const namespace = checkObjectName(args.namespace, "--namespace");
          const seconds = Math.round(parseTtl(args.duration, "--duration") / 1000);
          if (seconds < 600) throw new KpkiError("usage", `--duration ${args.duration} is too short: the API server issues tokens for at least 10m`);
          const target = targetFromKubeconfig(resolveKubeconfigPath(args.kubeconfig), args.context);
          const { token, expires } = await requestServiceAccountToken(target, namespace, name, seconds, args.audience?.map(String));
          if (args.print) {
            io.stdout(`${token}\n`);
            return;
          }
          const check = await verifyToken({
            target: { server: target.server, caPem: target.caPem, insecure: target.insecure },
            trust: target.insecure ? "insecure" : "ca",
            token: { bearer: token, expectedUser: `system:serviceaccount:${namespace}:${name}` },
            path: args.path,
          });
          if (args.output === "json") printJson(io, { expires, ...check });
          else io.stdout(`${check.outcome === "authenticated" ? "OK" : "FAILED"}: a token for ${namespace}/${name} (expires ${expires ?? "?"}): ${check.diagnosis}\n${check.causes.map((cause) => `  cause: ${cause}\n`).join("")}  (not printed: use --print to see it)\n`);
          const exitCode = OUTCOME_EXIT_CODES[check.outcome];
          if (exitCode !== 0) throw new KpkiError("verify", `the token for ${namespace}/${name}: ${check.outcome}`, { exitCode });
        },
      )
      .demandCommand(1, "give an sa command: create, token"),
  );
}
