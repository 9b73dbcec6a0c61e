import { ipFamily } from "../../pki/names.js";

/**
 * The small pieces of Ansible's inventory syntax that come from Python:
 * shlex.split (posix, comments), ast.literal_eval on INI values, and host
 * patterns with ranges and ports. Each follows the Python it stands for, so
 * an inventory means here what it means to ansible-inventory.
 */

/** Python's shlex.split(line, comments=True): posix quoting, `#` starts a comment even mid-word. */
export function shlexSplit(line: string): string[] {
  const tokens: string[] = [];
  let token = "";
  let inToken = false;
  for (let i = 0; i < line.length; i++) {
    const char = line[i]!;
    if (/\s/.test(char)) {
      if (inToken) tokens.push(token);
      token = "";
      inToken = false;
    } else if (char === "#") {
      break;
    } else if (char === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error("No closing quotation");
      token += line.slice(i + 1, end);
      inToken = true;
      i = end;
    } else if (char === '"') {
      inToken = true;
      for (i++; ; i++) {
        if (i >= line.length) throw new Error("No closing quotation");
        const inner = line[i]!;
        if (inner === '"') break;
        // In double quotes a backslash escapes only " and \ (posix shlex).
        if (inner === "\\" && (line[i + 1] === '"' || line[i + 1] === "\\")) token += line[++i];
        else token += inner;
      }
    } else if (char === "\\") {
      if (i + 1 >= line.length) throw new Error("No escaped character");
      token += line[++i];
      inToken = true;
    } else {
      token += char;
      inToken = true;
    }
  }
  if (inToken) tokens.push(token);
  return tokens;
}

const PY_ESCAPES: Record<string, string> = { n: "\n", t: "\t", r: "\r", "\\": "\\", "'": "'", '"': '"', "0": "\0" };

/**
 * What Ansible's INI plugin makes of a value: ast.literal_eval when the text
 * is a Python literal (numbers, True/False/None, quoted strings; a trailing
 * `# comment` is Python's too), else the text itself. Lists and dicts stay
 * text here: no connection setting is one.
 */
export function pythonLiteral(text: string): unknown {
  const source = text.trim().replace(/^(\S+?|'[^']*'|"(?:[^"\\]|\\.)*")\s+#.*$/, "$1");
  if (/^[+-]?(0|[1-9](_?[0-9])*)$/.test(source)) return Number(source.replace(/_/g, ""));
  if (/^[+-]?0[xX][0-9a-fA-F_]+$/.test(source)) return Number.parseInt(source.replace(/_/g, "").replace(/^([+-]?)0x/i, "$1"), 16);
  if (/^[+-]?0[oO][0-7_]+$/.test(source)) return Number.parseInt(source.replace(/_/g, "").replace(/^([+-]?)0o/i, "$1"), 8);
  if (/^[+-]?0[bB][01_]+$/.test(source)) return Number.parseInt(source.replace(/_/g, "").replace(/^([+-]?)0b/i, "$1"), 2);
  if (/^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$/.test(source) && /[.eE]/.test(source)) return Number(source);
  if (source === "True") return true;
  if (source === "False") return false;
  if (source === "None") return null;
  const quoted = source.match(/^(['"])((?:(?!\1)[^\\]|\\.)*)\1$/s);
  if (quoted) return quoted[2]!.replace(/\\(.)/gs, (whole, char: string) => PY_ESCAPES[char] ?? whole);
  return text;
}

/** Ansible's boolean(): what ansible_become=yes, true, 1, on mean. */
export function ansibleBoolean(value: unknown): boolean | undefined {
  if (typeof value === "boolean") return value;
  const text = String(value).toLowerCase();
  if (["yes", "on", "1", "true", "1.0", "y", "t"].includes(text)) return true;
  if (["no", "off", "0", "false", "0.0", "n", "f"].includes(text)) return false;
  return undefined;
}

const LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/** node[01:20], web[a:f], 10.0.0.[1:9:2]: Ansible's expand_hostname_range, several ranges included. */
export function expandHostRange(pattern: string): string[] {
  const open = pattern.indexOf("[");
  if (open < 0) return [pattern];
  const close = pattern.indexOf("]", open);
  if (close < 0) throw new Error(`"${pattern}": a range [ has no closing ]`);
  const head = pattern.slice(0, open);
  const tail = pattern.slice(close + 1);
  const bounds = pattern.slice(open + 1, close).split(":");
  if (bounds.length !== 2 && bounds.length !== 3) throw new Error(`"${pattern}": a host range must be [begin:end] or [begin:end:step]`);
  const begin = bounds[0] || "0";
  const end = bounds[1]!;
  const step = bounds[2] === undefined ? 1 : Number(bounds[2]);
  if (!end) throw new Error(`"${pattern}": a host range must have an end value`);
  if (!Number.isInteger(step) || step < 1) throw new Error(`"${pattern}": a host range's step must be a whole number, at least 1`);
  let width = 0;
  if (begin.length > 1 && begin.startsWith("0")) {
    if (begin.length !== end.length) throw new Error(`"${pattern}": a zero-padded range's begin and end must have the same width`);
    width = begin.length;
  }
  let values: string[];
  if (LETTERS.includes(begin) && LETTERS.includes(end) && begin.length === 1 && end.length === 1) {
    const from = LETTERS.indexOf(begin);
    const to = LETTERS.indexOf(end);
    if (from > to) throw new Error(`"${pattern}": a host range must have begin <= end`);
    values = [];
    for (let i = from; i <= to; i += step) values.push(LETTERS[i]!);
  } else {
    if (!/^\d+$/.test(begin) || !/^\d+$/.test(end)) throw new Error(`"${pattern}": a host range is numbers or single letters`);
    values = [];
    for (let i = Number(begin); i <= Number(end); i += step) values.push(String(i).padStart(width, "0"));
  }
  return values.flatMap((value) => expandHostRange(`${head}${value}${tail}`));
}

/**
 * Ansible's parse_address(allow_ranges=True) as the inventory plugins use it:
 * a trailing :port on a name or IPv4, [v6]:port; a bare IPv6 has no port.
 * Anything it does not recognise is a host name as written, without a port.
 */
export function splitHostPort(text: string): { pattern: string; port?: number } {
  const bracketed = text.match(/^\[([^\]]+)\]:(\d+)$/);
  if (bracketed && ipFamily(bracketed[1]!.replace(/\[[^\]]*\]/g, "0")) === 6) return { pattern: bracketed[1]!, port: Number(bracketed[2]) };
  if (/^\[[^\]]+\]$/.test(text) && ipFamily(text.slice(1, -1)) === 6) return { pattern: text.slice(1, -1) };
  const named = text.match(/^((?:[a-zA-Z0-9_-]|\[[^\]]*\]|\.(?!\.))+):(\d+)$/);
  if (named && !named[1]!.includes("::")) return { pattern: named[1]!, port: Number(named[2]) };
  return { pattern: text };
}
