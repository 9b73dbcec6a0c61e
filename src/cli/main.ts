import yargs from "yargs";
import type { Argv } from "yargs";
import { KpkiError } from "../errors.js";
import { describeError, OUTPUT_FORMATS, processIo, type Io } from "./io.js";
import { STDIN_PATH } from "./files.js";
import { caCommand } from "./commands/ca.js";
import { certCommand } from "./commands/cert.js";
import { initCommand } from "./commands/init.js";
import { certsCommand } from "./commands/certs.js";
import { kubeconfigCommand } from "./commands/kubeconfig.js";
import { tokenCommand } from "./commands/token.js";
import { discoveryCommand } from "./commands/discovery.js";
import { saCommand } from "./commands/sa.js";
import { secretCommand } from "./commands/secret.js";
import { nodeCommand } from "./commands/node.js";
import { VERSION } from "../version.js";

export type CommandRegistrar = (cli: Argv, io: Io) => Argv;

/**
 * Runs the CLI and resolves to the exit code; never throws. Commands load
 * their implementation lazily, so `kpki --version` costs little.
 */
export async function main(given: readonly string[], io: Io = processIo()): Promise<number> {
  let exitCode = 0;
  const argv = joinNegativeValues(withStdinArgs(given));
  const cli: Argv = yargs([...argv])
    .scriptName("kpki")
    // A repeatable flag takes one value per use (--san a --san b), so it never
    // swallows the positional arguments after it (kpki node prep --ssh-option X HOST).
    .parserConfiguration({ "greedy-arrays": false })
    .usage("$0 <command> [options]\n\nCluster PKI, node preparation and bootstrap checks for kubeadm-style clusters.")
    .option("output", { alias: "o", choices: OUTPUT_FORMATS, default: "text" as const, describe: "output format", global: true })
    .version(VERSION)
    .help()
    .alias("help", "h")
    .strict()
    .demandCommand(1, "give a command: kpki init, certs, cert, ca, kubeconfig, node, token, discovery, sa or secret (see kpki --help)")
    .recommendCommands()
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .exitProcess(false)
    .middleware(refuseRepeatedFlags(() => cli), true)
    // `--san "$LB"` with LB unset: refused, not a certificate quietly without the name.
    .middleware(refuseValuelessFlags(argv), true)
    .middleware(splitCommaLists, true)
    .fail((message, error) => {
      if (error) throw error;
      // Throw, not just record: yargs runs the command's handler after a
      // validation failure (unknown option, bad choice) unless fail() throws.
      throw new KpkiError("usage", withHelpHint(withoutCamelTwins(message), helpFor(argv, message)));
    });
  for (const register of [initCommand, certsCommand, certCommand, caCommand, kubeconfigCommand, tokenCommand, discoveryCommand, saCommand, secretCommand, nodeCommand]) {
    register(cli, io);
  }
  cli.showHelpOnFail(false);
  skipHelpCache(cli);
  try {
    await cli.parseAsync([...argv], {}, (error, _parsed, output) => {
      if (output && !error) io.stdout(output.endsWith("\n") ? output : `${output}\n`);
    });
  } catch (error) {
    const { message, exitCode: code } = describeError(error);
    // With -o json a script reads the error too: one JSON object on stderr, stdout left to the report.
    if (wantsJson(argv)) io.stderr(`${JSON.stringify({ error: message, exitCode: code })}\n`);
    else io.stderr(`kpki: ${message}\n`);
    if (process.env.KPKI_DEBUG && error instanceof Error && error.stack) io.stderr(`${error.stack}\n`);
    exitCode = code;
  }
  return exitCode;
}

/**
 * The CLI as a process (bin/kpki): exits as soon as stdout and stderr are
 * flushed, rather than when the event loop empties. Primes prestart began
 * for keys init turned out not to need (a refused plan, an error) would
 * otherwise run to their end first, and the natural exit's teardown costs
 * a few milliseconds more.
 */
export async function runAndExit(argv: readonly string[]): Promise<never> {
  const code = await main(argv);
  await Promise.all([process.stdout, process.stderr].map((stream) => new Promise((resolve) => stream.write("", resolve))));
  process.exit(code);
}

/**
 * yargs lays out the command's whole help text each time a command runs,
 * in case a later failure shows it: 15–25 ms of main-thread CPU while init's
 * keys are being generated. kpki never shows help on a failure
 * (showHelpOnFail(false); fail() throws a one-line error), and --help renders
 * its own, so the cache is never read: skip filling it. getInternalMethods()
 * is yargs API its type definitions leave out.
 */
function skipHelpCache(cli: Argv): void {
  // Internal API: should a yargs release drop it, only the 15–25 ms come back.
  const usage = (cli as unknown as { getInternalMethods?(): { getUsageInstance?(): { cacheHelpMessage?(): void } } }).getInternalMethods?.().getUsageInstance?.();
  if (typeof usage?.cacheHelpMessage === "function") usage.cacheHelpMessage = () => {};
}

/**
 * yargs drops a lone "-" (a flag's value becomes "", a positional vanishes):
 * keep it as standard input, the way the help offers it. `--csr -` becomes
 * `--csr=-`; a positional "-" becomes /dev/stdin, which readInput reads as
 * standard input.
 */
function withStdinArgs(argv: readonly string[]): string[] {
  const result: string[] = [];
  for (const arg of argv) {
    const previous = result[result.length - 1];
    if (arg !== "-") result.push(arg);
    else if (previous?.startsWith("--") && previous.length > 2 && !previous.includes("=")) result[result.length - 1] = `${previous}=-`;
    else result.push(STDIN_PATH);
  }
  return result;
}

/** The help to point at: the (sub)command the user typed, "kpki certs renew --help", else "kpki --help". */
function helpFor(argv: readonly string[], message = ""): string {
  const words: string[] = [];
  for (const arg of argv) {
    if (arg.startsWith("-") || words.length === 2) break;
    words.push(arg);
  }
  // "kpki cert frob": the group's help, not that of a subcommand that does not exist.
  if (words[1] && message.includes(`Unknown argument: ${words[1]}`)) words.pop();
  if (!words[0] || !COMMANDS.includes(words[0])) return "kpki --help";
  // init has no subcommands; the others have one level.
  return `kpki ${(words[0] === "init" ? words.slice(0, 1) : words).join(" ")} --help`;
}

const COMMANDS = ["init", "certs", "cert", "ca", "kubeconfig", "token", "discovery", "sa", "secret", "node"];

/**
 * yargs names an unknown --kebab-flag twice, as typed and camel-cased
 * ("Unknown arguments: cert-days, certDays"): each flag once.
 */
function withoutCamelTwins(message: string): string {
  const match = message.match(/^Unknown arguments?: (.*)$/s);
  if (!match) return message;
  const names = match[1]!.split(", ");
  const camel = (name: string) => name.replace(/-+([a-z0-9])/g, (_, letter: string) => letter.toUpperCase());
  const kept = names.filter((name) => name.includes("-") || !names.some((other) => other !== name && other.includes("-") && camel(other) === name));
  return `Unknown argument${kept.length === 1 ? "" : "s"}: ${kept.join(", ")}`;
}

/** One usage line ending in a pointer to --help (once, even if the message already has one). */
function withHelpHint(message: string, help: string): string {
  // yargs puts details on further lines ("Missing required argument: x\n<describe>"): join them into one.
  const line = message
    .split("\n")
    .map((part) => part.trim())
    .filter(Boolean)
    .reduce((joined, part) => (joined === "" ? part : joined.endsWith(":") ? `${joined} ${part}` : `${joined}: ${part}`), "");
  return /kpki [\w -]*--help/.test(line) ? line : `${line} (see ${help})`;
}

/**
 * A flag that takes one value but was given twice would reach a command as an
 * array; say so instead. Repeatable flags (--san, --group, …) are arrays by design.
 */
function refuseRepeatedFlags(cli: () => Argv) {
  return (argv: Record<string, unknown>) => {
    // getOptions() is yargs API its type definitions leave out.
    const repeatable = new Set((cli() as unknown as { getOptions(): { array: string[] } }).getOptions().array);
    for (const [key, value] of Object.entries(argv)) {
      // Each flag also appears under its camelCase alias; check the spelled-out form once.
      if (!Array.isArray(value) || key === "_" || /[A-Z]/.test(key) || repeatable.has(key)) continue;
      throw new KpkiError("usage", `--${key} was given ${value.length} times: give it once (see ${helpFor((argv._ as unknown[]).map(String))})`);
    }
  };
}

/**
 * "--ttl -1h" would reach yargs as the flags -1 and -h (help, exit 0): join a
 * value that starts with a minus and a digit to its flag, so the command sees
 * it and refuses it with one clear line. kpki has no numeric short flags.
 */
function joinNegativeValues(argv: readonly string[]): string[] {
  const joined: string[] = [];
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index]!;
    const next = argv[index + 1];
    if (/^--[a-z][\w-]*$/.test(arg) && next !== undefined && /^-\d/.test(next)) {
      joined.push(`${arg}=${next}`);
      index++;
    } else joined.push(arg);
  }
  return joined;
}

/**
 * Flags kubeadm takes as comma lists (--apiserver-cert-extra-sans, --usages,
 * --groups, --discovery-token-ca-cert-hash, …): "--san a,b" is "--san a
 * --san b". A comma is never part of a SAN, group, usage, pin or name.
 */
const COMMA_LISTS = ["san", "etcd-san", "only", "group", "org", "usages", "groups", "ca-hash", "audience"];

function splitCommaLists(argv: Record<string, unknown>): void {
  for (const flag of COMMA_LISTS) {
    const camel = flag.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
    for (const key of new Set([flag, camel])) {
      const value = argv[key];
      if (Array.isArray(value)) argv[key] = value.flatMap((item) => String(item).split(",")).map((item) => item.trim()).filter(Boolean);
    }
  }
}

/** `token create --groups ""`: no extra groups, kubeadm's way to drop the default. */
const MAY_BE_EMPTY = new Set(["--groups"]);

/**
 * A list flag or -o with no value after it (the last word, or another flag
 * next): yargs makes that an empty list or the default format, silently.
 */
function refuseValuelessFlags(raw: readonly string[]) {
  const flags = new Map([...COMMA_LISTS.map((flag) => [`--${flag}`, `--${flag}`] as const), ["--output", "--output"], ["-o", "--output"]]);
  return (): void => {
    raw.forEach((word, index) => {
      const flag = flags.get(word.split("=")[0]!);
      if (!flag) return;
      const value = word.includes("=") ? word.slice(word.indexOf("=") + 1) : raw[index + 1];
      const empty = value !== undefined && value.trim() === "" && !MAY_BE_EMPTY.has(flag);
      if (value === undefined || empty || (!word.includes("=") && value.startsWith("-") && value !== "-")) {
        throw new KpkiError("usage", flag === "--output" ? "--output has no value: give --output json or --output text" : `${flag} has no value: give one, or leave ${flag} out`);
      }
    });
  };
}

/** Whether -o json / --output json was asked, even when parsing failed before yargs could say. */
function wantsJson(argv: readonly string[]): boolean {
  return argv.some((arg, index) => /^(-o|--output)=?json$/.test(arg) || ((arg === "-o" || arg === "--output") && argv[index + 1] === "json"));
}
