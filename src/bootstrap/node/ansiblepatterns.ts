import { KpkiError } from "../../errors.js";

/** What a host pattern is matched against: names in order, groups with their hosts. */
export interface PatternInventory {
  hostNames: readonly string[];
  groupNames: readonly string[];
  /** A group's hosts and its children's, in Ansible's order (the group's own, then each child's). */
  hostsOfGroup(group: string): string[];
}

const SUBSCRIPT = /^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$/;

/** Ansible's fnmatch.translate, anchored: * ? [seq] [!seq]. */
function globToRegExp(glob: string): RegExp {
  let source = "";
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i]!;
    if (char === "*") source += ".*";
    else if (char === "?") source += ".";
    else if (char === "[") {
      const close = glob.indexOf("]", i + 2);
      if (close < 0) source += "\\[";
      else {
        let set = glob.slice(i + 1, close).replace(/\\/g, "\\\\");
        if (set.startsWith("!")) set = `^${set.slice(1)}`;
        else if (set.startsWith("^")) set = `\\${set}`;
        source += `[${set}]`;
        i = close;
      }
    } else source += char.replace(/[.+^${}()|\\/]/g, "\\$&");
  }
  return new RegExp(`^(?:${source})$`, "s");
}

/** Ansible's split_host_pattern: commas, else colons outside [brackets] (one host[:port] stays whole). */
export function splitPatterns(text: string): string[] {
  const parts = text.includes(",")
    ? text.split(",")
    : /^(?:[\w.-]+(?::\d+)?|\[[0-9a-fA-F:.]+\](?::\d+)?|[0-9a-fA-F]*:[0-9a-fA-F:.]*:[0-9a-fA-F.]*)$/.test(text.trim())
      ? [text]
      : (text.match(/(?:[^\s:[\]]|\[[^\]]*\])+/g) ?? []);
  return parts.map((part) => part.trim()).filter(Boolean);
}

/**
 * The hosts a pattern such as `kube_node:!node3`, `web*,&dc1`, `~node0[1-3]`
 * or `kube_node[0:9]` selects, as Ansible's --limit does: the plain terms
 * united, then `&` terms intersected, then `!` terms removed. Returns the
 * terms that matched nothing (Ansible warns about them).
 */
export function selectHosts(inventory: PatternInventory, pattern: string): { hosts: string[]; unmatched: string[] } {
  const terms = splitPatterns(pattern);
  const plain = terms.filter((term) => !term.startsWith("!") && !term.startsWith("&"));
  const ordered = [...(plain.length > 0 ? plain : ["all"]), ...terms.filter((term) => term.startsWith("&")), ...terms.filter((term) => term.startsWith("!"))];
  const hostSet = new Set(inventory.hostNames);
  let selected: string[] = [];
  const unmatched: string[] = [];
  for (const term of ordered) {
    const expression = term.replace(/^[!&]/, "");
    const matched = hostSet.has(term) ? [term] : matchOne(inventory, expression);
    if (matched.length === 0) unmatched.push(term);
    const set = new Set(matched);
    if (term.startsWith("!")) selected = selected.filter((host) => !set.has(host));
    else if (term.startsWith("&")) selected = selected.filter((host) => set.has(host));
    else selected.push(...matched.filter((host) => !selected.includes(host)));
  }
  return { hosts: selected, unmatched };
}

function matchOne(inventory: PatternInventory, expression: string): string[] {
  let pattern = expression;
  let subscript: [number, number | undefined] | undefined;
  const parts = pattern.startsWith("~") ? null : pattern.match(SUBSCRIPT);
  if (parts) {
    pattern = parts[1]!;
    subscript = parts[2] !== undefined ? [Number(parts[2]), undefined] : [Number(parts[3]), parts[5] ? Number(parts[5]) : -1];
  }
  let test: RegExp;
  try {
    test = pattern.startsWith("~") ? new RegExp(`^(?:${pattern.slice(1)})`) : globToRegExp(pattern);
  } catch {
    throw new KpkiError("usage", `--limit "${expression}": not a valid host pattern (regular expression)`);
  }
  const groups = inventory.groupNames.filter((name) => test.test(name));
  const found: string[] = [];
  const add = (host: string) => {
    if (!found.includes(host)) found.push(host);
  };
  for (const group of groups) inventory.hostsOfGroup(group).forEach(add);
  if (groups.length === 0 || /^~|[.?*[]/.test(pattern)) inventory.hostNames.filter((name) => test.test(name)).forEach(add);
  if (!subscript) return found;
  const [start, end] = subscript;
  if (end === undefined) {
    const host = found.at(start);
    return host === undefined ? [] : [host];
  }
  // Ansible's subscripts are inclusive: [0:2] is three hosts; [x:] runs to the end.
  return found.slice(start, (end === -1 ? found.length - 1 : end) + 1);
}
