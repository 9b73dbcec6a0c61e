import { CERTS, KEY_PAIRS, KUBECONFIGS, certFile, keyFile } from "./catalog.js";
import { altNameList, formatAltName } from "./names.js";
import type { ClusterSpec } from "./spec.js";
import { formatSubject } from "./subject.js";

/** A spec whose values are the placeholders the docs show. */
const PLACEHOLDER_SPEC: ClusterSpec = {
  masterIp: "MASTER_IP",
  apiServerPort: 6443,
  nodeName: "NODE_NAME",
  nodeNameSource: "flag",
  controlPlaneEndpoint: { host: { type: "dns", value: "ENDPOINT" }, port: 6443 },
  serviceCidr: "SERVICE_CIDR",
  serviceIp: "SERVICE_IP",
  serviceIps: ["SERVICE_IP"],
  dnsDomain: "DNS_DOMAIN",
  extraSans: [{ type: "dns", value: "SAN…" }],
  etcdSans: [{ type: "dns", value: "ETCD_SAN…" }],
  externalEtcd: false,
  clusterName: "kubernetes",
  caCommonName: "kubernetes",
  caAltNames: { dns: ["kubernetes"], ips: [] },
  caDays: 3650,
  days: 365,
  keyType: "rsa-2048",
};

const escape = (text: string) => text.replace(/\|/g, "\\|");

/**
 * The README's catalog tables, made from the catalog itself (a test checks
 * the README holds exactly this), so docs and code cannot drift apart.
 */
export function catalogMarkdown(): string {
  const spec = PLACEHOLDER_SPEC;
  const certRows = CERTS.map((entry) => {
    const sans = altNameList(entry.altNames(spec)).map(formatAltName).join(", ") || "—";
    const usages = entry.profile.isCA ? "CA" : entry.profile.extendedKeyUsages.join(", ");
    const days = entry.validityDays(spec) === spec.caDays ? "10 y (`--ca-days`)" : "1 y (`--days`)";
    return `| ${entry.name} | \`${certFile(entry)}\`, \`${keyFile(entry)}\` | ${entry.ca ?? "self"} | \`${escape(formatSubject(entry.subject(spec)))}\` | ${usages} | ${sans === "—" ? sans : `\`${escape(sans)}\``} | ${days} |`;
  });
  const keyRows = KEY_PAIRS.map((entry) => `| ${entry.name} | \`${entry.keyFile}\`, \`${entry.publicKeyFile}\` | — | — | — | — | never renewed |`);
  const kubeconfigRows = KUBECONFIGS.map(
    (entry) => `| ${entry.name} | \`${entry.file}\` | ${entry.ca} | \`${escape(formatSubject(entry.subject(spec)))}\` | clientAuth | \`${entry.server(spec)}\` | 1 y${entry.rotatedByKubelet ? " (then the kubelet rotates it)" : ""} |`,
  );
  return [
    "| name | files | signed by | subject | usages | SANs / server | validity |",
    "|---|---|---|---|---|---|---|",
    ...certRows,
    ...keyRows,
    ...kubeconfigRows,
  ].join("\n");
}
