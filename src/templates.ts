import { readFileSync } from "node:fs";

// templates/ ships in the package root; src/ and dist/ both sit one level
// below it. Found when first needed: in the startup snapshot, a value
// computed as the module loads would be the build's.
const templateDir = () => new URL("../templates/", import.meta.url);

const cache = new Map<string, string>();

/** Drops what was read (the startup snapshot's warm-up: templates are read from the package a run starts from). */
export function forgetTemplates(): void {
  cache.clear();
}

export function loadTemplate(name: string): string {
  let text = cache.get(name);
  if (text === undefined) {
    text = readFileSync(new URL(name, templateDir()), "utf8");
    cache.set(name, text);
  }
  return text;
}

/**
 * Fills `{{name}}` placeholders and keeps `{{#if name}}…{{/if}}` blocks only
 * when the value is non-empty. Unknown placeholders are an error, so a
 * template and its caller cannot drift apart silently.
 */
export function renderTemplate(template: string, values: Record<string, string>): string {
  const lookup = (name: string) => {
    if (!(name in values)) throw new Error(`template placeholder {{${name}}} has no value`);
    return values[name]!;
  };
  return template
    .replace(/\{\{#if (\w+)\}\}([\s\S]*?)\{\{\/if\}\}/g, (_, name: string, body: string) => (lookup(name) ? body : ""))
    .replace(/\{\{(\w+)\}\}/g, (_, name: string) => lookup(name));
}
