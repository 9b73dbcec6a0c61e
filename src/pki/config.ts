import { parseBoundedYaml } from "../inputbounds.js";
import { LineCounter, isMap, isScalar, isSeq, type Node } from "yaml";
import { inputError, quoted } from "../errors.js";
import { KEYGENS, type Keygen } from "./keygen.js";
import { KEY_TYPES, type KeyType } from "./keys.js";

/**
 * The settings a config file may hold: init's flags, each key exactly the
 * flag's camelCase (--apiserver-port → apiserverPort, --san → san).
 */
export interface InitConfig {
  masterIp?: string;
  apiserverPort?: number;
  nodeName?: string;
  controlPlaneEndpoint?: string;
  serviceCidr?: string;
  dnsDomain?: string;
  san?: string[];
  etcdSan?: string[];
  externalEtcd?: boolean;
  clusterName?: string;
  caCn?: string;
  caDays?: number;
  days?: number;
  keyType?: KeyType;
  dir?: string;
  certDir?: string;
  kubeconfigDir?: string;
  only?: string[];
  keygen?: Keygen;
}

type FieldType = "string" | "number" | "boolean" | "strings" | "keyType" | "keygen";

const FIELDS: Record<keyof InitConfig, FieldType> = {
  masterIp: "string",
  apiserverPort: "number",
  nodeName: "string",
  controlPlaneEndpoint: "string",
  serviceCidr: "string",
  dnsDomain: "string",
  san: "strings",
  etcdSan: "strings",
  externalEtcd: "boolean",
  clusterName: "string",
  caCn: "string",
  caDays: "number",
  days: "number",
  keyType: "keyType",
  dir: "string",
  certDir: "string",
  kubeconfigDir: "string",
  only: "strings",
  keygen: "keygen",
};

/** Keys of kpki's first config format, and the flag's camelCase that replaced each. */
const RENAMED: Record<string, keyof InitConfig> = { apiServerPort: "apiserverPort", sans: "san", etcdSans: "etcdSan", caCommonName: "caCn" };

const article: Record<FieldType, string> = {
  string: "a string",
  number: "a number",
  boolean: "true or false",
  strings: "a list of strings",
  keyType: `one of ${KEY_TYPES.join(", ")}`,
  keygen: `one of ${KEYGENS.join(", ")}`,
};

/**
 * Parses and validates a kpki config file (YAML). Every problem names the
 * file, the line and the key; unknown keys are refused, so a typo never
 * silently falls back to a default.
 */
export function parseInitConfig(text: string, label: string): InitConfig {
  const lineCounter = new LineCounter();
  const document = parseBoundedYaml(text, label, { lineCounter });
  const lineOf = (node: Node | null | undefined) => (node?.range ? lineCounter.linePos(node.range[0]).line : 1);
  if (document.errors.length > 0) {
    const error = document.errors[0]!;
    throw inputError(`${label}:${error.linePos?.[0]?.line ?? 1}: not valid YAML: ${error.message.split("\n")[0]}`);
  }
  if (document.contents === null) return {};
  if (!isMap(document.contents)) throw inputError(`${label}:${lineOf(document.contents)}: expected a mapping of settings (key: value)`);
  const config: Record<string, unknown> = {};
  for (const pair of document.contents.items) {
    const keyNode = pair.key as Node;
    const key = isScalar(keyNode) ? String(keyNode.value) : "";
    const line = lineOf(keyNode);
    const type = FIELDS[key as keyof InitConfig];
    if (!type && RENAMED[key]) throw inputError(`${label}:${line}: ${quoted(key)} is now "${RENAMED[key]}", the camelCase of its flag: rename it`);
    if (!type) throw inputError(`${label}:${line}: unknown key ${quoted(key)}: the keys are ${Object.keys(FIELDS).join(", ")} (init's flags in camelCase), or give kubeadm's InitConfiguration and ClusterConfiguration`);
    const valueNode = pair.value as Node | null;
    const wrong = () => inputError(`${label}:${lineOf(valueNode) || line}: ${quoted(key)} must be ${article[type]}`);
    if (type === "strings") {
      if (!isSeq(valueNode) || !valueNode.items.every((item) => isScalar(item) && typeof item.value === "string")) throw wrong();
      config[key] = valueNode.items.map((item) => String((item as { value: unknown }).value));
      continue;
    }
    if (!isScalar(valueNode)) throw wrong();
    const value = valueNode.value;
    const choices: readonly string[] | undefined = type === "keyType" ? KEY_TYPES : type === "keygen" ? KEYGENS : undefined;
    if (choices) {
      if (typeof value !== "string" || !choices.includes(value)) throw wrong();
      config[key] = value as KeyType | Keygen;
    } else if (type === "string" ? typeof value !== "string" : typeof value !== type) {
      throw wrong();
    } else {
      config[key] = value;
    }
  }
  return config as InitConfig;
}
