import type { Argv } from "yargs";
import { KpkiError } from "../../errors.js";
import { printManifest } from "../manifests.js";
import { printJson, type Io } from "../io.js";
import { kubeconfigOptions, resolveKubeconfigPath } from "../kubeconfigs.js";

export function secretCommand(cli: Argv, io: Io): Argv {
  return cli.command("secret", "random secrets for the cluster", (secret) =>
    secret
      .command(
        "generate <name>",
        "an Opaque Secret with random values (CSPRNG, no modulo bias); prints the manifest, or --apply",
        (command) =>
          command
            .positional("name", { type: "string", demandOption: true })
            .option("key", { type: "string", array: true, demandOption: "give --key K (repeatable): the Secret's keys", describe: "key to fill, repeatable" })
            .option("length", { type: "number", default: 32, describe: "characters per value" })
            .option("charset", { choices: ["alnum", "hex", "base64url"] as const, default: "alnum" as const, describe: "characters to draw from" })
            .option("namespace", { alias: "n", type: "string", default: "default" })
            .option("apply", { type: "boolean", default: false, describe: "create it through the API instead of printing it" })
            .options(kubeconfigOptions)
            .example("$0 secret generate db-credentials --key password --key api-key -n app", "the manifest, values never logged")
            .example("$0 secret generate db-credentials --key password --apply", "created through the API"),
        async (args) => {
          const [{ CHARSETS, randomString }, { opaqueSecretManifest, manifestObjects }, { checkObjectName }] = await Promise.all([
            import("../../bootstrap/api/random.js"),
            import("../../bootstrap/api/manifests.js"),
            import("../../bootstrap/api/serviceaccounts.js"),
          ]);
          const name = checkObjectName(args.name, "NAME");
          const namespace = checkObjectName(args.namespace, "--namespace");
          if (!Number.isInteger(args.length) || args.length < 8 || args.length > 4096) {
            throw new KpkiError("usage", "--length must be a whole number from 8 to 4096");
          }
          const keys = (args.key ?? []).map(String);
          for (const key of keys) {
            if (!/^[-._a-zA-Z0-9]+$/.test(key)) throw new KpkiError("usage", `--key "${key}" is not a valid Secret key: letters, digits, "-", "_" and "."`);
          }
          const values = Object.fromEntries(keys.map((key) => [key, randomString(args.length, CHARSETS[args.charset])]));
          const manifest = opaqueSecretManifest(name, namespace, values);
          if (!args.apply) return printManifest(io, manifest, args.output as string);
          const [{ targetFromKubeconfig, api, expectStatus }] = await Promise.all([import("../../bootstrap/api/cluster.js")]);
          const target = targetFromKubeconfig(resolveKubeconfigPath(args.kubeconfig), args.context);
          const response = await api.post(target, `/api/v1/namespaces/${namespace}/secrets`, manifestObjects(manifest)[0]);
          if (response.status === 409) throw new KpkiError("conflict", `Secret ${namespace}/${name} exists already: kpki does not replace it; delete it first or choose another name`);
          await expectStatus(Promise.resolve(response), [200, 201], `creating Secret ${namespace}/${name}`);
          if (args.output === "json") return printJson(io, { namespace, name, keys, created: true });
          io.stdout(`Secret ${namespace}/${name} created with ${keys.length} random value(s) of ${args.length} characters (not shown)\n`);
        },
      )
      .demandCommand(1, "give a secret command: generate"),
  );
}
