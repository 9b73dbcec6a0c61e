import { isMap, isScalar, isSeq, LineCounter, type Node, type YAMLMap } from "yaml";
import { inputError, quoted } from "../errors.js";
import { boundedToJs, parseBoundedYamlDocuments } from "../inputbounds.js";
import { parseGoDuration } from "../duration.js";
import type { InitConfig } from "./config.js";
import type { KeyType } from "./keys.js";

/** What kpki took from a kubeadm config file, and what it left (the report lists it). */
export interface KubeadmConfigResult {
  config: InitConfig;
  /** Dotted paths (kind.field) kpki does not use, and whole documents of kinds it does not use. */
  ignored: string[];
}

const KUBEADM_VERSIONS = ["kubeadm.k8s.io/v1beta3", "kubeadm.k8s.io/v1beta4"];
/** Kinds a kubeadm config file holds that say nothing about the PKI: skipped whole, and listed. */
const OTHER_KINDS = new Set(["JoinConfiguration", "ResetConfiguration", "UpgradeConfiguration", "KubeletConfiguration", "KubeProxyConfiguration"]);

/** kubeadm's encryptionAlgorithm values and kpki's key types. */
const ENCRYPTION_ALGORITHMS: Record<string, KeyType> = {
  "RSA-2048": "rsa-2048",
  "RSA-3072": "rsa-3072",
  "RSA-4096": "rsa-4096",
  "ECDSA-P256": "ecdsa-p256",
  "ECDSA-P384": "ecdsa-p384",
};

/**
 * Whether a YAML text is kubeadm's (documents with apiVersion and kind)
 * rather than kpki's own flat keys. Within the YAML bounds (a hostile file is
 * the input error naming `label`); a document that does not parse is left
 * to the parser that names its line.
 */
export function isKubeadmConfig(text: string, label: string): boolean {
  return parseBoundedYamlDocuments(text, label).some((document) => {
    if (document.errors.length > 0) return false;
    const value = boundedToJs(document, label) as Record<string, unknown> | null | undefined;
    return Boolean(value && typeof value === "object" && "apiVersion" in value && "kind" in value);
  });
}

type Setter = (value: unknown, where: string, config: InitConfig) => void;

const text = (key: keyof InitConfig): Setter => (value, where, config) => {
  if (typeof value !== "string" || value === "") throw inputError(`${where} must be a string`);
  (config as Record<string, unknown>)[key] = value;
};
const strings = (key: "san" | "etcdSan"): Setter => (value, where, config) => {
  if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) throw inputError(`${where} must be a list of strings`);
  config[key] = [...new Set([...(config[key] ?? []), ...(value as string[])])];
};
const validityDays = (key: "days" | "caDays"): Setter => (value, where, config) => {
  const parsed = typeof value === "string" ? parseGoDuration(value) : { problem: "syntax" as const };
  const days = "ms" in parsed ? parsed.ms / 86_400_000 : NaN;
  if (!Number.isInteger(days) || days < 1) throw inputError(`${where} ${quoted(value)} must be a Go duration of whole days (kpki signs in days), e.g. 8760h0m0s`);
  config[key] = days;
};

/**
 * The fields kpki reads, by kind and path, and what each sets: the same
 * settings as init's flags. Everything else in these kinds is ignored and
 * reported.
 */
const FIELDS: Record<string, Record<string, Setter>> = {
  InitConfiguration: {
    "localAPIEndpoint.advertiseAddress": text("masterIp"),
    "localAPIEndpoint.bindPort": (value, where, config) => {
      if (typeof value !== "number") throw inputError(`${where} must be a port number`);
      config.apiserverPort = value;
    },
    "nodeRegistration.name": text("nodeName"),
  },
  ClusterConfiguration: {
    controlPlaneEndpoint: text("controlPlaneEndpoint"),
    "apiServer.certSANs": strings("san"),
    "networking.serviceSubnet": text("serviceCidr"),
    "networking.dnsDomain": text("dnsDomain"),
    clusterName: text("clusterName"),
    certificatesDir: text("certDir"),
    // kpki gives etcd's server and peer certificates one SAN list: both lists, joined.
    "etcd.local.serverCertSANs": strings("etcdSan"),
    "etcd.local.peerCertSANs": strings("etcdSan"),
    "etcd.external": (value, where, config) => {
      if (value === null || typeof value !== "object") throw inputError(`${where} must be a mapping (endpoints, caFile, …)`);
      config.externalEtcd = true;
    },
    encryptionAlgorithm: (value, where, config) => {
      const keyType = typeof value === "string" ? ENCRYPTION_ALGORITHMS[value] : undefined;
      if (!keyType) throw inputError(`${where} ${quoted(value)} is not one of kubeadm's ${Object.keys(ENCRYPTION_ALGORITHMS).join(", ")}`);
      config.keyType = keyType;
    },
    certificateValidityPeriod: validityDays("days"),
    caCertificateValidityPeriod: validityDays("caDays"),
  },
};

/** v1beta4 moved these from ClusterConfiguration; v1beta3 had no such fields. */
const V1BETA4_ONLY = new Set(["encryptionAlgorithm", "certificateValidityPeriod", "caCertificateValidityPeriod"]);

/**
 * kubeadm's own InitConfiguration + ClusterConfiguration (v1beta3, v1beta4),
 * mapped onto init's settings, so one file serves kpki and kubeadm. Fields
 * kpki does not use are ignored and listed; kinds it does not know are refused.
 */
export function parseKubeadmConfig(source: string, label: string): KubeadmConfigResult {
  const lineCounter = new LineCounter();
  const documents = parseBoundedYamlDocuments(source, label, { lineCounter });
  const lineOf = (node: Node | null | undefined) => (node?.range ? lineCounter.linePos(node.range[0]).line : 1);
  const config: InitConfig = {};
  const ignored: string[] = [];
  const seen = new Set<string>();
  for (const document of documents) {
    if (document.errors.length > 0) {
      const error = document.errors[0]!;
      throw inputError(`${label}:${error.linePos?.[0]?.line ?? 1}: not valid YAML: ${error.message.split("\n")[0]}`);
    }
    const root = document.contents;
    if (root === null) continue;
    if (!isMap(root)) throw inputError(`${label}:${lineOf(root)}: expected a kubeadm configuration (apiVersion, kind, …)`);
    const value = (boundedToJs(document, label) ?? {}) as Record<string, unknown>;
    const kind = String(value.kind ?? "");
    const apiVersion = String(value.apiVersion ?? "");
    const at = `${label}:${lineOf(root)}`;
    if (OTHER_KINDS.has(kind)) {
      ignored.push(kind);
      continue;
    }
    const fields = FIELDS[kind];
    if (!fields) {
      throw inputError(`${at}: kind ${kind ? quoted(kind) : "(none)"} is not a kubeadm configuration kpki knows: give InitConfiguration and ClusterConfiguration (kubeadm.k8s.io/v1beta3 or v1beta4)`);
    }
    if (!KUBEADM_VERSIONS.includes(apiVersion)) {
      throw inputError(`${at}: ${kind} apiVersion ${quoted(apiVersion)} is not ${KUBEADM_VERSIONS.join(" or ")}: convert it with kubeadm config migrate`);
    }
    if (seen.has(kind)) throw inputError(`${at}: a second ${kind}: give each kind once`);
    seen.add(kind);
    for (const [fieldPath, node, fieldValue] of leaves(root, "")) {
      if (fieldPath === "apiVersion" || fieldPath === "kind") continue;
      const setter = V1BETA4_ONLY.has(fieldPath) && apiVersion.endsWith("v1beta3") ? undefined : fields[fieldPath];
      if (setter) setter(fieldValue, `${label}:${lineOf(node)}: ${kind} ${fieldPath}`, config);
      else ignored.push(`${kind}.${fieldPath}`);
    }
  }
  if (seen.size === 0) throw inputError(`${label}: no InitConfiguration or ClusterConfiguration in it`);
  return { config, ignored };
}

/**
 * The fields of a mapping as dotted paths down to the ones kpki reads; a
 * field kpki reads whole (a list, etcd.external) stops the descent there.
 */
function* leaves(map: YAMLMap, prefix: string): Generator<[string, Node, unknown]> {
  const whole = new Set(["apiServer.certSANs", "etcd.local.serverCertSANs", "etcd.local.peerCertSANs", "etcd.external"]);
  for (const pair of map.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : "";
    const fieldPath = prefix ? `${prefix}.${key}` : key;
    const node = pair.value as Node;
    if (isMap(node) && !whole.has(fieldPath)) yield* leaves(node, fieldPath);
    else yield [fieldPath, node ?? (pair.key as Node), isSeq(node) || isMap(node) ? node.toJSON() : isScalar(node) ? node.value : null];
  }
}
