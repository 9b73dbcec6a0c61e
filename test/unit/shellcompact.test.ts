/**
 * dropCommentLines: bash's own parser says the script means the same without
 * its comment lines. Wrapped in a function, a script is never run, and
 * `declare -f` prints it back as bash read it: comments gone, every quote,
 * here-document and command as parsed. The same print before and after is
 * the same script.
 */
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { dropCommentLines } from "../../src/bootstrap/node/shellcompact.js";
import { renderNodeScript } from "../../src/bootstrap/node/steps.js";
import { renderProvisionScript } from "../../src/bootstrap/node/provision.js";
import { resolveKubernetesVersion } from "../../src/bootstrap/node/versions.js";

const asBashReadsIt = async (script: string) => {
  const result = await execa("bash", ["-c", 'eval "kpki_script() {\n$(cat)\n}" && declare -f kpki_script'], { input: script, reject: false });
  expect(result.exitCode, result.stderr).toBe(0);
  return result.stdout;
};

const kubernetes = resolveKubernetesVersion("1.33");
const KEY = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n# not a comment: the key's own line\nmQENBGc\n-----END PGP PUBLIC KEY BLOCK-----\n";

describe("dropCommentLines", () => {
  it.each([
    ["apply", { mode: "apply" }],
    ["check, a mirror key (a here-document)", { mode: "check", packages: { install: true, upgrade: false, mirror: "http://mirror.example/k8s", mirrorKey: KEY } }],
    ["argument, RHEL", { mode: "argument", osFamily: "rhel" }],
  ] as const)("leaves the node script meaning the same to bash: %s", async (_, extra) => {
    const script = renderNodeScript({ role: "control-plane", runtime: "auto", firewall: true, ipv6: true, kubernetes, ...extra });
    const compact = dropCommentLines(script);
    expect(compact.length).toBeLessThan(script.length * 0.9);
    expect(compact.split("\n").filter((line) => /^\s*#/.test(line)).length).toBeLessThan(30); // those left are inside quotes or here-documents
    expect(await asBashReadsIt(compact)).toBe(await asBashReadsIt(script));
    if ("packages" in extra) expect(compact).toContain(KEY.trimEnd());
  });

  it("keeps what only looks like a comment: here-documents, quotes, continuations, $# and ${x#y}", async () => {
    // Each line of a script, and what is left of it (null: dropped).
    const lines: [string, string | null][] = [
      ["#!/bin/sh", "#!/bin/sh"],
      ["# a comment", null],
      ["   # an indented one", null],
      ["", null],
      ["cat <<'EOF'", "cat <<'EOF'"],
      ["# data", "# data"],
      ["  indented data", "  indented data"],
      ["EOF", "EOF"],
      ['cat <<-EOF2 ; cat <<"EOF3"', 'cat <<-EOF2 ; cat <<"EOF3"'],
      ["\t# tab-stripped data", "\t# tab-stripped data"],
      ["\tEOF2", "\tEOF2"],
      ["# more data", "# more data"],
      ["EOF3", "EOF3"],
      ["  x='first", "x='first"],
      ["  # inside single quotes", "  # inside single quotes"],
      ["last'", "last'"],
      ['y="$(printf \'%s\' "a', 'y="$(printf \'%s\' "a'],
      ["# inside a command substitution inside double quotes", "# inside a command substitution inside double quotes"],
      ['b")"', 'b")"'],
      ["echo $# ${x#f} ${#y} \\", "echo $# ${x#f} ${#y} \\"],
      ["  # a continued line: its comment goes, the line stays", ""],
      ["z=1 # after code", "z=1"],
    ];
    const script = lines.map(([line]) => line).join("\n");
    const compact = dropCommentLines(script);
    expect(compact).toBe(lines.flatMap(([, left]) => (left === null ? [] : [left])).join("\n"));
    expect(await asBashReadsIt(compact)).toBe(await asBashReadsIt(script));
  });

  it("refuses a script it cannot follow to its end", () => {
    expect(() => dropCommentLines("echo 'open\n# x")).toThrow(/ends inside a quote/);
    expect(() => dropCommentLines("cat <<EOF\n# x")).toThrow(/here-document/);
  });

  it("leaves the provision script's own here-document whole: the node script is in it once, without the preflight's facts", () => {
    const script = renderProvisionScript({ role: "worker", runtime: "auto", firewall: true, ipv6: false, kubernetes });
    expect(script.match(/^step_packages\(\) \{$/gm)).toHaveLength(1);
    expect(script.match(/<<'KPKI_NODE_SCRIPT'$/gm)).toHaveLength(1);
    expect(script).toContain(dropCommentLines(renderNodeScript({ mode: "argument", role: "worker", runtime: "auto", firewall: true, ipv6: false, kubernetes }, { without: ["preflight"] }).replace(/\n+$/, "")));
    expect(script).not.toMatch(/^step_preflight\(\) \{$/m);
    expect(script).toMatch(/^step_kubelet\(\) \{$/m);
  });
});
