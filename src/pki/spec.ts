import { inputError } from "../errors.js";
import { DEFAULT_KEY_TYPE, type KeyType } from "./keys.js";
import { addAltNames, dnsNameProblem, firstIpOfCidr, parseAltName, parseIp, type AltName, type AltNames } from "./names.js";
import { checkSubjectText } from "./subject.js";

/** Everything the cluster's certificates depend on, validated. */
export interface ClusterSpec {
  masterIp: string;
  nodeName?: string;
  serviceCidr: string;
  serviceIp: string;
  dnsDomain: string;
  extraSans: AltName[];
  caCommonName: string;
  caAltNames: AltNames;
  caDays: number;
  days: number;
  keyType: KeyType;
}

/** What a user gives; every field but masterIp has kubeadm's default. */
export interface ClusterSpecInput {
  masterIp: string;
  nodeName?: string;
  serviceCidr?: string;
  dnsDomain?: string;
  sans?: readonly string[];
  caCommonName?: string;
  caDays?: number;
  days?: number;
  keyType?: KeyType;
}

export const DEFAULTS = {
  serviceCidr: "10.96.0.0/12",
  dnsDomain: "cluster.local",
  caCommonName: "kubernetes",
  caDays: 3650,
  days: 365,
} as const;

export function checkDays(value: number, flag: string): number {
  if (Number.isNaN(value)) throw inputError(`${flag} takes a whole number of days of at least 1, e.g. ${flag} 365`);
  if (!Number.isInteger(value) || value < 1) throw inputError(`${flag} ${value} is not a whole number of days of at least 1`);
  if (value > 100 * 365) throw inputError(`${flag} ${value} is more than 100 years: give fewer days`);
  return value;
}

export function resolveClusterSpec(input: ClusterSpecInput): ClusterSpec {
  if (!input.masterIp) throw inputError("--master-ip is required: give the API server's advertise address, e.g. --master-ip 192.0.2.10");
  const masterIp = parseIp(input.masterIp, "--master-ip");
  const serviceCidr = input.serviceCidr ?? DEFAULTS.serviceCidr;
  const dnsDomain = (input.dnsDomain ?? DEFAULTS.dnsDomain).toLowerCase();
  const domainProblem = dnsNameProblem(dnsDomain);
  if (domainProblem || dnsDomain.includes("*")) throw inputError(`--dns-domain "${input.dnsDomain}" is not a valid DNS domain: ${domainProblem ?? "no wildcards"}`);
  let nodeName: string | undefined;
  if (input.nodeName !== undefined) {
    nodeName = input.nodeName.toLowerCase();
    const problem = dnsNameProblem(nodeName);
    if (problem || nodeName.includes("*")) throw inputError(`--node-name "${input.nodeName}" is not a valid DNS-1123 name: ${problem ?? "no wildcards"}`);
  }
  const caCommonName = checkSubjectText(input.caCommonName ?? DEFAULTS.caCommonName, "--ca-cn");
  const caAltNames: AltNames = { dns: [], ips: [] };
  try {
    addAltNames(caAltNames, [parseAltName(caCommonName)]);
  } catch {
    // A CN such as "192.0.2.10@1700000000" (easy-rsa's style) is no host name: no SAN then.
  }
  return {
    masterIp,
    nodeName,
    serviceCidr,
    serviceIp: firstIpOfCidr(serviceCidr),
    dnsDomain,
    extraSans: (input.sans ?? []).map((san) => parseAltName(san, "--san")),
    caCommonName,
    caAltNames,
    caDays: checkDays(input.caDays ?? DEFAULTS.caDays, "--ca-days"),
    days: checkDays(input.days ?? DEFAULTS.days, "--days"),
    keyType: input.keyType ?? DEFAULT_KEY_TYPE,
  };
}

/**
 * The API server's SANs: kubeadm's list (GetAPIServerAltNames) plus the
 * seed's kubernetes.default.svc.cluster, which the Kubernetes docs' csr.conf lists.
 */
export function apiServerAltNames(spec: ClusterSpec): AltNames {
  const names: AltNames = { dns: [], ips: [] };
  const dns = [
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster",
    `kubernetes.default.svc.${spec.dnsDomain}`,
    ...(spec.nodeName ? [spec.nodeName] : []),
  ];
  addAltNames(names, dns.map((value) => ({ type: "dns" as const, value })));
  addAltNames(names, [
    { type: "ip", value: spec.masterIp },
    { type: "ip", value: spec.serviceIp },
  ]);
  return addAltNames(names, spec.extraSans);
}
