import type { Argv } from "yargs";
import { KpkiError } from "../../errors.js";
import { readTokenArg, tokenOptions } from "../files.js";
import { apiServerUrl } from "../serverurl.js";
import { printJson, type Io } from "../io.js";

export function discoveryCommand(cli: Argv, io: Io): Argv {
  return cli.command("discovery", "kubeadm join's token discovery, checked before joining", (discovery) =>
    discovery
      .command(
        "verify",
        "fetch cluster-info, check the token's JWS and the CA pin, re-fetch over verified TLS",
        (command) =>
          command
            .option("server", { type: "string", demandOption: "give --server HOST:6443 (the endpoint kubeadm join gets)", describe: "API server, host:port as kubeadm join takes it, or https://HOST:PORT" })
            .options(tokenOptions)
            .option("ca-hash", { type: "string", array: true, describe: "CA pin sha256:… (kubeadm's --discovery-token-ca-cert-hash); repeatable" })
            .option("unsafe-skip-ca-verification", { type: "boolean", default: false, describe: "trust whatever CA the token signed, as kubeadm's flag of that name" })
            .option("timeout", { type: "number", default: 10, describe: "seconds to wait for the server" })
            .example("$0 discovery verify --server 192.0.2.10:6443 --token-file token.txt --ca-hash sha256:…", "what kubeadm join 192.0.2.10:6443 would check first"),
        async (args) => {
          const [{ parseToken }, { checkPin }, { checkApiServerUrl }, { verifyDiscovery }] = await Promise.all([
            import("../../bootstrap/api/token.js"),
            import("../../bootstrap/api/trust.js"),
            import("../../bootstrap/api/apiclient.js"),
            import("../../bootstrap/api/discovery.js"),
          ]);
          const server = apiServerUrl(args.server);
          checkApiServerUrl(server);
          const text = await readTokenArg(args, io);
          const token = parseToken(text);
          const pins = (args.caHash ?? []).map((pin) => checkPin(String(pin)));
          if (pins.length === 0 && !args.unsafeSkipCaVerification) {
            throw new KpkiError("usage", "give --ca-hash sha256:… (kpki ca hash prints it), or --unsafe-skip-ca-verification");
          }
          const result = await verifyDiscovery({ server, token, pins, skipCaVerification: args.unsafeSkipCaVerification, timeoutMs: args.timeout * 1000 });
          if (args.output === "json") printJson(io, result);
          else {
            const lines = result.steps.map((step) => `  ${step.ok ? "ok  " : "FAIL"}  ${step.step}: ${step.detail}`);
            lines.push(result.ok ? `kubeadm join ${new URL(server).host} with this token and pin would pass discovery; it then talks to ${result.clusterServer}` : "kubeadm join would fail at the step marked FAIL.");
            io.stdout(`${lines.join("\n")}\n`);
          }
          if (!result.ok) throw new KpkiError("verify", `discovery failed: ${result.steps.at(-1)?.detail ?? "see above"}`);
        },
      )
      .demandCommand(1, "give a discovery command: verify"),
  );
}
