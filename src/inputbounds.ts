/**
 * Bounds on what kpki reads, so no input can exhaust memory, the stack or
 * the CPU: a size cap on every file, and YAML parsed only when its nesting is
 * shallow and with few aliases. Real inputs are far inside them: a kubeconfig
 * is a few KB and nests 5 levels, a CA bundle of every public root is 220 KB.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { open } from "node:fs/promises";
import { parseAllDocuments, parseDocument, type Document, type DocumentOptions, type ParseOptions, type SchemaOptions } from "yaml";
import { inputError } from "./errors.js";

export const MAX_INPUT_BYTES = 1024 * 1024;
/** Deeper than any kubeconfig, config or inventory; yaml's parse time grows with depth squared. */
export const MAX_YAML_DEPTH = 64;
export const MAX_YAML_ALIASES = 100;
/**
 * yaml spends time per node, not per byte: a 1 MiB file of short lines takes
 * seconds. A kubeconfig with a hundred contexts has ~1,500 lines (embedded
 * certificates are one line each).
 */
export const MAX_YAML_LINES = 5_000;
/**
 * And yaml's time grows with the values in a file more than with its lines:
 * 5,000 lines of flow mappings (`- { a: [1, 2, 3], b: x }`, eight values each)
 * took 200-500 ms, 5,000 lines of block mappings 40-110 ms. So values are
 * bounded too, counted as yamlValueCount does: 10,000 is an inventory of
 * 1,200 hosts with four fields each, or a kubeconfig with 300 contexts.
 */
export const MAX_YAML_VALUES = 10_000;

const tooBig = (label: string) =>
  inputError(`${label} is larger than ${MAX_INPUT_BYTES / 1024 / 1024} MiB, which is no certificate, key or config kpki reads: give the right file`);

/** Refuses input above the cap (for what arrives on stdin or over the network). */
export function checkInputSize(data: { length: number }, label: string): void {
  if (data.length > MAX_INPUT_BYTES) throw tooBig(label);
}

/**
 * Reads at most the cap (plus one byte, to tell "too big"), whatever the file
 * is: a regular file, a FIFO or /dev/zero. Errors from the file system are
 * the caller's to describe.
 */
export async function readBounded(file: string, label = file): Promise<Buffer> {
  const handle = await open(file, "r");
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.alloc(Math.min(64 * 1024, MAX_INPUT_BYTES + 1 - total));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
      total += bytesRead;
      if (total > MAX_INPUT_BYTES) throw tooBig(label);
    }
    return Buffer.concat(chunks);
  } finally {
    await handle.close();
  }
}

/** readBounded for the few synchronous readers (files a kubeconfig names). */
export function readBoundedSync(file: string, label = file): Buffer {
  const fd = openSync(file, "r");
  try {
    const buffer = Buffer.alloc(MAX_INPUT_BYTES + 1);
    let total = 0;
    for (;;) {
      const bytesRead = readSync(fd, buffer, total, buffer.length - total, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > MAX_INPUT_BYTES) throw tooBig(label);
    }
    return buffer.subarray(0, total);
  } finally {
    closeSync(fd);
  }
}

/**
 * How deeply a YAML text nests, from its lines alone (block indentation,
 * compact "- " entries, flow brackets), in one linear pass, so a hostile
 * file is refused before the parser spends time or stack on it. It may
 * over-count (brackets inside quotes), never under-count by much.
 */
export function yamlNestingDepth(text: string): number {
  const indents: number[] = [];
  let flow = 0;
  let deepest = 0;
  for (const line of text.split("\n")) {
    const prefix = /^( *)((?:[-?:][ \t]+)*)/.exec(line)!;
    const rest = line.slice(prefix[0].length);
    if (rest.trim() === "" || rest.startsWith("#")) {
      if (prefix[2] === "") continue;
    }
    const indent = prefix[1]!.length;
    if (flow === 0) {
      while (indents.length > 0 && indents[indents.length - 1]! >= indent) indents.pop();
      indents.push(indent);
    }
    const compact = prefix[2]!.length === 0 ? 0 : prefix[2]!.split(/[ \t]+/).filter(Boolean).length;
    for (const char of rest) {
      if (char === "[" || char === "{") flow++;
      else if ((char === "]" || char === "}") && flow > 0) flow--;
      deepest = Math.max(deepest, indents.length + compact + flow);
    }
    deepest = Math.max(deepest, indents.length + compact + flow);
  }
  return deepest;
}

/**
 * About how many values (keys, scalars, collections) a YAML text holds, in
 * one linear pass: a line with content, and each ",", "[", "{" and ": " on
 * it. It over-counts what sits inside quotes, which only errs on the side of
 * refusing a file made of punctuation.
 */
export function yamlValueCount(text: string): number {
  let count = 0;
  let content = false;
  for (let i = 0; i < text.length; i++) {
    const char = text.charCodeAt(i);
    if (char === 10) {
      if (content) count++;
      content = false;
    } else if (char !== 32 && char !== 9 && char !== 13) {
      content = true;
      if (char === 44 || char === 91 || char === 123) count++; // , [ {
      else if (char === 58 && (i + 1 === text.length || text.charCodeAt(i + 1) === 32 || text.charCodeAt(i + 1) === 10)) count++; // ": "
    }
  }
  return content ? count + 1 : count;
}

type YamlOptions = ParseOptions & DocumentOptions & SchemaOptions;

/**
 * yaml's parseDocument within the bounds: too deep is the input error that
 * names the file, before parsing; the parser's own failures (a stack
 * overflow on input the depth estimate missed) too.
 */
export function parseBoundedYaml(text: string, label: string, options: YamlOptions = {}): Document.Parsed {
  return withinYamlBounds(text, label, () => parseDocument(text, { prettyErrors: false, ...options }));
}

/** parseBoundedYaml for a stream of documents (kubeadm's config file: InitConfiguration --- ClusterConfiguration). */
export function parseBoundedYamlDocuments(text: string, label: string, options: YamlOptions = {}): Document.Parsed[] {
  return withinYamlBounds(text, label, () => [...parseAllDocuments(text, { prettyErrors: false, ...options })]);
}

function withinYamlBounds<T>(text: string, label: string, parse: () => T): T {
  checkInputSize(text, label);
  let lines = 1;
  for (let at = text.indexOf("\n"); at >= 0 && lines <= MAX_YAML_LINES; at = text.indexOf("\n", at + 1)) lines++;
  if (lines > MAX_YAML_LINES) throw inputError(`${label} has more than ${MAX_YAML_LINES} lines, more than kpki reads as YAML: it is no kubeconfig, inventory or kpki config`);
  const values = yamlValueCount(text);
  if (values > MAX_YAML_VALUES) throw inputError(`${label} holds about ${values} YAML values, more than the ${MAX_YAML_VALUES} kpki reads: it is no kubeconfig, inventory or kpki config`);
  const depth = yamlNestingDepth(text);
  if (depth > MAX_YAML_DEPTH) {
    throw inputError(`${label} nests ${depth} levels deep, more than the ${MAX_YAML_DEPTH} kpki reads: it is no kubeconfig or kpki config`);
  }
  try {
    return parse();
  } catch (error) {
    throw inputError(`${label} is not YAML kpki can read: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`);
  }
}

/** document.toJS with yaml's alias bound: an alias bomb is the input error that names the file. */
export function boundedToJs(document: Document.Parsed, label: string): unknown {
  try {
    return document.toJS({ maxAliasCount: MAX_YAML_ALIASES });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (/alias/i.test(message)) throw inputError(`${label} uses YAML aliases more than ${MAX_YAML_ALIASES} times (an alias bomb): write the values out`);
    throw inputError(`${label} is not YAML kpki can read: ${message.split("\n")[0]}`);
  }
}
