import { printJson, type Io, type OutputFormat } from "./io.js";

/**
 * A manifest as YAML, or with -o json as JSON: the one object, or several
 * in a v1 List, as kubectl prints them.
 */
export async function printManifest(io: Io, yamlText: string, format: OutputFormat | string): Promise<void> {
  if (format !== "json") return io.stdout(yamlText);
  const { manifestObjects } = await import("../bootstrap/api/manifests.js");
  const objects = manifestObjects(yamlText);
  printJson(io, objects.length === 1 ? objects[0] : { apiVersion: "v1", kind: "List", items: objects });
}
