// Issue 11, item 7: every command's --help has examples, found by walking
// the help itself (so a new command without them fails here), and a usage
// error points to the help of the subcommand it was typed for.
import { describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";

/** The "kpki X Y" lines of a help text's Commands: section. */
const commandsIn = (help: string) => [...help.matchAll(/^ {2}kpki ([a-z-]+(?: [a-z-]+)?)/gm)].map((match) => match[1]!);

describe("kpki --help", () => {
  it("every command's help shows examples", async () => {
    const top = await runCli(["--help"]);
    const groups = commandsIn(top.stdout);
    expect(groups).toEqual(["init", "certs", "cert", "ca", "kubeconfig", "token", "discovery", "sa", "secret", "node"]);
    const leaves: string[] = [];
    for (const group of groups) {
      const help = await runCli([group, "--help"]);
      expect(help.exitCode).toBe(0);
      const subcommands = commandsIn(help.stdout).filter((command) => command.startsWith(`${group} `));
      leaves.push(...(subcommands.length > 0 ? subcommands : [group]));
    }
    expect(leaves.length).toBeGreaterThan(20);
    const without: string[] = [];
    for (const command of leaves) {
      const help = await runCli([...command.split(" "), "--help"]);
      expect(help.exitCode, command).toBe(0);
      if (!/^Examples:\n {2}kpki /m.test(help.stdout)) without.push(command);
    }
    expect(without).toEqual([]);
  });

  it.each([
    [["certs", "renew", "apiserver", "--bogus"], "kpki certs renew --help"],
    [["cert", "sign"], "kpki cert sign --help"],
    [["init", "--bogus"], "kpki init --help"],
    [["node", "push-pki"], "kpki node push-pki --help"],
    [["certs"], "kpki certs --help"],
    [["bogus"], "kpki --help"],
  ])("a usage error in %j points to %s", async (args, help) => {
    const result = await runCli(args);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/^kpki: [^\n]+\n$/);
    expect(result.stderr.trimEnd().endsWith(`(see ${help})`)).toBe(true);
  });
});
