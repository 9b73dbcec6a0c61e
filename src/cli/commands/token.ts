import path from "node:path";
import type { Argv } from "yargs";
import { KpkiError } from "../../errors.js";
import { clusterDirOptions, clusterLayoutOf } from "../clusterdir.js";
import { readTokenArg, tokenOptions } from "../files.js";
import { printManifest } from "../manifests.js";
import { printJson, table, type Io } from "../io.js";
import { kubeconfigOptions, resolveKubeconfigPath } from "../kubeconfigs.js";
import { sshOptions } from "../sshoptions.js";

export function tokenCommand(cli: Argv, io: Io): Argv {
  return cli.command("token", "bootstrap tokens: make, create, list, delete, verify (kubeadm token …, and curl done carefully)", (token) =>
    token
      .command(
        "generate",
        "print a new random token (offline), or with --manifest its Secret manifest",
        (command) =>
          spec(command)
            .option("manifest", { type: "boolean", default: false, describe: "print the bootstrap-token Secret manifest (holds the secret)" })
            .example("$0 token generate", "a token such as kubeadm token generate prints")
            .example("$0 token generate --ttl 2h --manifest", "its Secret, to kubectl apply -f -"),
        async (args) => {
          const { tokenSpecFrom } = await import("../tokens.js");
          const tokenSpec = tokenSpecFrom(args);
          const { tokenText } = await import("../../bootstrap/api/token.js");
          if (args.manifest) {
            const { tokenSecretManifest } = await import("../../bootstrap/api/manifests.js");
            return printManifest(io, tokenSecretManifest(tokenSpec), args.output as string);
          }
          if (args.output === "json") return printJson(io, { token: tokenText(tokenSpec.token), expires: tokenSpec.expires?.toISOString() ?? null });
          io.stdout(`${tokenText(tokenSpec.token)}\n`);
        },
      )
      .command(
        "create [token]",
        "create a bootstrap token in the cluster (a new random one unless given)",
        (command) =>
          spec(command)
            .positional("token", { type: "string", describe: "use this token instead of a random one" })
            .options(kubeconfigOptions)
            .options(clusterDirOptions)
            .option("print-join-command", { type: "boolean", default: false, describe: "print the kubeadm join command (with --discovery-token-ca-cert-hash)" })
            .example("$0 token create --print-join-command --dir ./kubernetes", "through the cluster's admin.conf; the pin from its pki/ca.crt"),
        async (args) => {
          const [{ tokenSpecFrom }, { createTokenSecret }, { targetFromKubeconfig }, { tokenText }] = await Promise.all([
            import("../tokens.js"),
            import("../../bootstrap/api/tokens.js"),
            import("../../bootstrap/api/cluster.js"),
            import("../../bootstrap/api/token.js"),
          ]);
          const tokenSpec = tokenSpecFrom(args, args.token);
          // With --dir, the cluster's own admin.conf and CA; else kubectl's kubeconfig.
          const layout = args.dir || args.certDir || args.kubeconfigDir ? await clusterLayoutOf(args) : undefined;
          const target = targetFromKubeconfig(args.kubeconfig ?? (layout ? path.join(layout.kubeconfigDir, "admin.conf") : resolveKubeconfigPath(undefined)), args.context);
          let caPem = target.caPem;
          if (layout && args.printJoinCommand) {
            const [{ readCaFile }, { caOf }] = await Promise.all([import("../tokens.js"), import("../../bootstrap/api/trust.js")]);
            const caFile = path.join(layout.certDir, "ca.crt");
            const own = await readCaFile(caFile, io);
            if (target.caPem && caOf(target.caPem).pin !== own.pin) {
              throw new KpkiError("input", `the kubeconfig trusts another cluster's CA than ${caFile}: give that cluster's --dir, or its own --kubeconfig`);
            }
            caPem = own.pem;
          }
          await createTokenSecret(target, tokenSpec);
          const text = tokenText(tokenSpec.token);
          let join: string | undefined;
          if (args.printJoinCommand) {
            const { caOf } = await import("../../bootstrap/api/trust.js");
            if (!caPem) throw new KpkiError("input", "the kubeconfig names no CA, so there is no --discovery-token-ca-cert-hash to print: give the cluster's --dir");
            join = `kubeadm join ${new URL(target.server).host} --token ${text} --discovery-token-ca-cert-hash ${caOf(caPem).pin}`;
          }
          if (args.output === "json") return printJson(io, { token: text, expires: tokenSpec.expires?.toISOString() ?? null, joinCommand: join ?? null });
          io.stdout(`${join ?? text}\n`);
        },
      )
      .command(
        "list",
        "list the cluster's bootstrap tokens (kubeadm token list's columns)",
        (command) => command.options(kubeconfigOptions).example("$0 token list --kubeconfig kubernetes/admin.conf", "kubeadm token list's columns"),
        async (args) => {
          const [{ listTokens }, { targetFromKubeconfig }, { formatTokenTable }] = await Promise.all([
            import("../../bootstrap/api/tokens.js"),
            import("../../bootstrap/api/cluster.js"),
            import("../tokens.js"),
          ]);
          const tokens = await listTokens(targetFromKubeconfig(resolveKubeconfigPath(args.kubeconfig), args.context));
          if (args.output === "json") {
            return printJson(io, tokens.map(({ secret: _secret, ...token }) => ({ ...token, expires: token.expires?.toISOString() ?? null })));
          }
          io.stdout(formatTokenTable(tokens, new Date(), table));
        },
      )
      .command(
        "delete <ids..>",
        "delete bootstrap tokens (by id or whole token)",
        (command) =>
          command.positional("ids", { type: "string", array: true, describe: "token ids or tokens" }).options(kubeconfigOptions).example("$0 token delete abcdef", "by its id"),
        async (args) => {
          const [{ deleteToken }, { targetFromKubeconfig }, { TOKEN_ID_PATTERN, parseToken }] = await Promise.all([
            import("../../bootstrap/api/tokens.js"),
            import("../../bootstrap/api/cluster.js"),
            import("../../bootstrap/api/token.js"),
          ]);
          const ids = (args.ids ?? []).map((value) => {
            const text = String(value);
            if (TOKEN_ID_PATTERN.test(text)) return text;
            return parseToken(text, "token").id;
          });
          const target = targetFromKubeconfig(resolveKubeconfigPath(args.kubeconfig), args.context);
          const results = [];
          for (const id of ids) results.push({ id, result: await deleteToken(target, id) });
          if (args.output === "json") return printJson(io, results);
          io.stdout(results.map(({ id, result }) => (result === "deleted" ? `bootstrap token "${id}" deleted\n` : `bootstrap token "${id}" not found (nothing to delete)\n`)).join(""));
        },
      )
      .command(
        "verify",
        "check a token against the API server as curl -H 'Authorization: Bearer …' would, with TLS verified and the answer explained",
        (command) =>
          command
            .option("server", { type: "string", demandOption: "give --server https://HOST:6443", describe: "API server URL" })
            .options(tokenOptions)
            .option("ca", { type: "string", describe: "trust this CA certificate" })
            .option("ca-hash", { type: "string", array: true, describe: "trust the CA with this pin (sha256:…), as kubeadm join does; repeatable" })
            .option("insecure", { type: "boolean", default: false, describe: "do not verify the server (curl -k); said loudly" })
            .option("tls-server-name", { type: "string", describe: "name the server certificate must cover, if not the URL's host" })
            .option("path", { type: "string", default: "/api", describe: "what to GET" })
            .option("kubeconfig", { type: "string", describe: "an admin kubeconfig: lets kpki read the token's Secret to say why it was refused" })
            .option("timeout", { type: "number", default: 10, describe: "seconds to wait for the server" })
            .option("from", { type: "string", describe: "run the check on this node over SSH ([user@]host[:port]), with curl there: can it reach and authenticate before kubeadm join?" })
            .options(sshOptions)
            .example("$0 token verify --server https://192.0.2.10:6443 --token-file token.txt --ca kubernetes/pki/ca.crt", "the seed's curl -k -H 'Authorization: Bearer …', verified")
            .example("$0 token verify --server https://192.0.2.10:6443 --token-file token.txt --ca-hash sha256:… --from root@192.0.2.21", "from the node that will join")
            .check((argv) => {
              const sources = [argv.ca, argv.caHash, argv.insecure || undefined].filter((value) => value !== undefined);
              if (sources.length !== 1) throw new KpkiError("usage", "give exactly one of --ca FILE, --ca-hash sha256:…, --insecure");
              return true;
            }),
        async (args) => {
          const { runTokenVerify } = await import("../tokens.js");
          const tokenText = await readTokenArg(args, io);
          const { parseHostSpec, sshSettings } = await import("../sshoptions.js");
          await runTokenVerify(io, {
            from: args.from ? parseHostSpec(args.from, args, "--from") : undefined,
            ssh: args.from ? sshSettings(args) : undefined,
            server: args.server,
            token: tokenText,
            caFile: args.ca,
            caHashes: args.caHash?.map(String),
            insecure: args.insecure,
            tlsServerName: args.tlsServerName,
            path: args.path,
            kubeconfig: args.kubeconfig,
            timeoutMs: args.timeout * 1000,
            json: args.output === "json",
          });
        },
      )
      .demandCommand(1, "give a token command: generate, create, list, delete, verify"),
  );
}

/** Options that describe a token to make. */
function spec(command: Argv) {
  return command
    .option("ttl", { type: "string", default: "24h", describe: "how long it lives (0: forever)" })
    .option("usages", { type: "string", array: true, default: ["signing", "authentication"], describe: "signing, authentication" })
    .option("groups", { type: "string", array: true, default: ["system:bootstrappers:kubeadm:default-node-token"], describe: "extra groups to authenticate as" })
    .option("description", { type: "string", describe: "a human description" });
}

