import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { isMap, isScalar, LineCounter, type Node } from "yaml";
import { parseBoundedYaml, readBoundedSync } from "../../inputbounds.js";
import { KpkiError } from "../../errors.js";
import type { AnsibleInventory, AnsibleVar } from "./ansibleinventory.js";

const EXTENSIONS = ["", ".yml", ".yaml", ".json"];

/** Ansible's host_group_vars plugin: NAME, NAME.yml|.yaml|.json, or a folder NAME/ of such files (sorted, recursively). */
function varsFiles(folder: string, name: string): string[] {
  const files: string[] = [];
  for (const extension of EXTENSIONS) {
    const candidate = path.join(folder, `${name}${extension}`);
    if (!existsSync(candidate)) continue;
    if (statSync(candidate).isDirectory()) {
      if (extension === "") files.push(...folderFiles(candidate));
    } else files.push(candidate);
  }
  return files;
}

function folderFiles(folder: string): string[] {
  return readdirSync(folder)
    .filter((entry) => !entry.startsWith("."))
    .sort()
    .flatMap((entry) => {
      const full = path.join(folder, entry);
      if (statSync(full).isDirectory()) return folderFiles(full);
      return EXTENSIONS.includes(path.extname(entry)) ? [full] : [];
    });
}

function readVarsFile(file: string): Map<string, AnsibleVar> {
  const lines = new LineCounter();
  const document = parseBoundedYaml(readBoundedSync(file).toString(), file, { lineCounter: lines, version: "1.1", uniqueKeys: false });
  const at = (node: Node | null | undefined) => `${file}:${node?.range ? lines.linePos(node.range[0]).line : 1}`;
  if (document.errors.length > 0) throw new KpkiError("input", `${file}:${document.errors[0]!.linePos?.[0]?.line ?? 1}: not valid YAML: ${document.errors[0]!.message.split("\n")[0]}`);
  const root = document.contents;
  const vars = new Map<string, AnsibleVar>();
  if (root === null || (isScalar(root) && root.value === null)) return vars;
  if (!isMap(root)) throw new KpkiError("input", `${at(root)}: a vars file is a mapping of variables`);
  for (const pair of root.items) {
    const key = String(isScalar(pair.key) ? pair.key.value : pair.key);
    const value = pair.value as Node | null;
    vars.set(key, { value: value === null ? null : value.toJSON(), where: at(pair.key as Node) });
  }
  return vars;
}

/** Reads group_vars/ and host_vars/ beside an inventory file into its folderVars, as ansible-inventory does. */
export function loadVarsFolders(inventory: AnsibleInventory, folder: string): void {
  const kinds = [
    ["group_vars", [...inventory.groups.keys()], inventory.folderVars.groups],
    ["host_vars", [...inventory.hosts.keys()], inventory.folderVars.hosts],
  ] as const;
  for (const [kind, names, target] of kinds) {
    const base = path.join(folder, kind);
    if (!existsSync(base)) continue;
    for (const name of names) {
      const merged = new Map<string, AnsibleVar>();
      for (const file of varsFiles(base, name)) for (const [key, value] of readVarsFile(file)) merged.set(key, value);
      if (merged.size > 0) target.set(name, merged);
    }
  }
}
