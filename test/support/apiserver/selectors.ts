import type { KubeObject, ResourceType } from "./resources.js";

/** Splits on commas outside parentheses. */
const terms = (text: string): string[] => {
  const result: string[] = [];
  let depth = 0;
  let current = "";
  for (const char of text) {
    if (char === "(") depth += 1;
    if (char === ")") depth -= 1;
    if (char === "," && depth === 0) {
      result.push(current);
      current = "";
    } else current += char;
  }
  if (current.trim() !== "") result.push(current);
  return result.map((term) => term.trim()).filter((term) => term !== "");
};

/** A label selector (=, ==, !=, in, notin, exists, !exists); throws with the apiserver's message on bad syntax. */
export function labelMatcher(selector: string | null): (labels: Record<string, string>) => boolean {
  if (!selector) return () => true;
  const checks = terms(selector).map((term): ((labels: Record<string, string>) => boolean) => {
    let match = /^([^\s!=()]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
    if (match) {
      const [, key, op, values] = match as unknown as [string, string, string, string];
      const set = values.split(",").map((value) => value.trim());
      return op === "in" ? (labels) => key in labels && set.includes(labels[key]!) : (labels) => !(key in labels) || !set.includes(labels[key]!);
    }
    match = /^([^\s!=]+)\s*(==|=|!=)\s*([^\s]*)$/.exec(term);
    if (match) {
      const [, key, op, value] = match as unknown as [string, string, string, string];
      return op === "!=" ? (labels) => labels[key] !== value : (labels) => labels[key] === value;
    }
    match = /^(!?)([^\s!=()]+)$/.exec(term);
    if (match) {
      const [, not, key] = match as unknown as [string, string, string];
      return not ? (labels) => !(key in labels) : (labels) => key in labels;
    }
    throw new Error(`unable to parse requirement: ${term}`);
  });
  return (labels) => checks.every((check) => check(labels));
}

/** A field selector over the resource's supported labels; throws "field label not supported: X". */
export function fieldMatcher(type: ResourceType, selector: string | null): (object: KubeObject) => boolean {
  if (!selector) return () => true;
  const fields: Record<string, (object: KubeObject) => string> = {
    "metadata.name": (object) => object.metadata.name ?? "",
    ...(type.namespaced ? { "metadata.namespace": (object: KubeObject) => object.metadata.namespace ?? "" } : {}),
    ...type.fields,
  };
  const checks = terms(selector).map((term) => {
    const match = /^([^=!]+?)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (!match) throw new Error(`invalid selector: '${selector}'; can't understand '${term}'`);
    const [, field, op, value] = match as unknown as [string, string, string, string];
    const read = fields[field];
    if (!read) throw new Error(`field label not supported: ${field}`);
    return op === "!=" ? (object: KubeObject) => read(object) !== value : (object: KubeObject) => read(object) === value;
  });
  return (object) => checks.every((check) => check(object));
}
