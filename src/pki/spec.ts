import { hostname } from "node:os";
import { inputError } from "../errors.js";
import { DEFAULT_KEY_TYPE, type KeyType } from "./keys.js";
import { addAltNames, dnsNameProblem, firstIpOfCidr, parseAltName, parseIp, type AltName, type AltNames } from "./names.js";
import { checkSubjectText } from "./subject.js";

/** Everything the cluster's certificates and kubeconfigs depend on, validated. */
export interface ClusterSpec {
  /** The API server's advertise address (kubeadm's localAPIEndpoint.advertiseAddress). */
  masterIp: string;
  apiServerPort: number;
  nodeName: string;
  /** Where the node name came from, for the report. */
  nodeNameSource: "flag" | "hostname";
  /** host[:port] of a load balancer in front of the API servers. */
  controlPlaneEndpoint?: { host: AltName; port: number };
  /** One CIDR, or two of different families (dual-stack), comma-separated as kubeadm takes them. */
  serviceCidr: string;
  /** The first IP of the (primary) service subnet: the kubernetes Service's address. */
  serviceIp: string;
  /** The first IP of each service subnet: all are API server SANs. */
  serviceIps: string[];
  dnsDomain: string;
  extraSans: AltName[];
  etcdSans: AltName[];
  externalEtcd: boolean;
  clusterName: string;
  caCommonName: string;
  caAltNames: AltNames;
  caDays: number;
  days: number;
  keyType: KeyType;
}

/** What a user gives; every field but masterIp has kubeadm's default. */
export interface ClusterSpecInput {
  masterIp: string;
  apiServerPort?: number;
  nodeName?: string;
  controlPlaneEndpoint?: string;
  serviceCidr?: string;
  dnsDomain?: string;
  sans?: readonly string[];
  etcdSans?: readonly string[];
  externalEtcd?: boolean;
  clusterName?: string;
  caCommonName?: string;
  caDays?: number;
  days?: number;
  keyType?: KeyType;
}

export const DEFAULTS = {
  apiServerPort: 6443,
  serviceCidr: "10.96.0.0/12",
  dnsDomain: "cluster.local",
  clusterName: "kubernetes",
  caCommonName: "kubernetes",
  caDays: 3650,
  days: 365,
} as const;

export function checkDays(value: number, flag: string): number {
  if (typeof value !== "number" || Number.isNaN(value)) throw inputError(`${flag} takes a whole number of days of at least 1, e.g. ${flag} 365`);
  if (!Number.isInteger(value) || value < 1) throw inputError(`${flag} ${value} is not a whole number of days of at least 1`);
  if (value > 100 * 365) throw inputError(`${flag} ${value} is more than 100 years: give fewer days`);
  return value;
}

export function checkPort(value: number | string, flag: string): number {
  // A non-numeric --apiserver-port reaches here as NaN from yargs: say what is wanted, not "NaN".
  if (typeof value === "number" && Number.isNaN(value)) throw inputError(`${flag} takes a port number from 1 to 65535, e.g. ${flag} 6443`);
  const port = typeof value === "number" ? value : /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw inputError(`${flag}: port "${value}" is not a number from 1 to 65535`);
  return port;
}

function checkName(value: string, flag: string): string {
  const name = value.toLowerCase();
  const problem = dnsNameProblem(name) ?? (name.includes("*") ? "it may not hold a wildcard" : undefined);
  if (problem) throw inputError(`${flag} "${value}" is not a valid DNS-1123 name: ${problem}`);
  return name;
}

/** "host", "host:port", "[v6]:port" or a bare IPv6 address. */
export function parseEndpoint(text: string, defaultPort: number, flag = "--control-plane-endpoint"): { host: AltName; port: number } {
  const value = text.trim().replace(/^https:\/\//, "").replace(/\/$/, "");
  let host = value;
  let port: number | string = defaultPort;
  const bracketed = value.match(/^\[([^\]]+)\](?::(.*))?$/);
  if (bracketed) {
    host = bracketed[1]!;
    if (bracketed[2] !== undefined) port = bracketed[2];
  } else if ((value.match(/:/g) ?? []).length === 1) {
    [host, port] = value.split(":") as [string, string];
  }
  return { host: parseAltName(host, flag), port: checkPort(port, flag) };
}

/** Why an address cannot be an API server's advertise address (kubeadm refuses the same), or undefined. */
export function advertiseAddressProblem(address: string): string | undefined {
  if (address === "0.0.0.0" || address === "::") return "the unspecified address (it means every interface, not one to connect to)";
  if (address === "255.255.255.255") return "the broadcast address";
  if (!address.includes(":") && Number(address.split(".")[0]) >= 224 && Number(address.split(".")[0]) <= 239) return "a multicast address";
  if (/^ff[0-9a-f]{2}:/i.test(address)) return "a multicast address";
  return undefined;
}

/**
 * kubeadm's networking.serviceSubnet: one CIDR, or a dual-stack pair of one
 * IPv4 and one IPv6 CIDR, comma-separated. Each subnet's first IP.
 */
export function serviceSubnetIps(text: string, flag = "--service-cidr"): string[] {
  const cidrs = text.split(",").map((part) => part.trim());
  const ips = cidrs.map((cidr) => firstIpOfCidr(cidr, flag));
  if (ips.length > 2) throw inputError(`${flag} "${text}" has ${ips.length} subnets: give one, or two (one IPv4 and one IPv6) for dual-stack`);
  if (ips.length === 2 && ips[0]!.includes(":") === ips[1]!.includes(":")) {
    throw inputError(`${flag} "${text}": a dual-stack pair needs one IPv4 and one IPv6 subnet, e.g. 10.96.0.0/12,fd00::/108`);
  }
  return ips;
}

export function resolveClusterSpec(input: ClusterSpecInput): ClusterSpec {
  if (!input.masterIp) throw inputError("--master-ip is required: give the API server's advertise address, e.g. --master-ip 192.0.2.10");
  const masterIp = parseIp(input.masterIp, "--master-ip");
  const unusable = advertiseAddressProblem(masterIp);
  if (unusable) throw inputError(`--master-ip ${masterIp} is ${unusable}: no API server can be reached there; give the control-plane node's own address, e.g. --master-ip 192.0.2.10`);
  const apiServerPort = checkPort(input.apiServerPort ?? DEFAULTS.apiServerPort, "--apiserver-port");
  const serviceCidr = input.serviceCidr ?? DEFAULTS.serviceCidr;
  const serviceIps = serviceSubnetIps(serviceCidr);
  const dnsDomain = checkName(input.dnsDomain ?? DEFAULTS.dnsDomain, "--dns-domain");
  // kubeadm names the node after the host it runs on; kpki does the same unless told.
  let nodeName: string;
  if (input.nodeName !== undefined) nodeName = checkName(input.nodeName, "--node-name");
  else {
    try {
      nodeName = checkName(hostname(), "the host name");
    } catch {
      throw inputError(`this host's name "${hostname()}" is not a valid DNS-1123 name: give the control-plane node's name with --node-name`);
    }
  }
  const caCommonName = checkSubjectText(input.caCommonName ?? DEFAULTS.caCommonName, "--ca-cn");
  const caAltNames: AltNames = { dns: [], ips: [] };
  try {
    addAltNames(caAltNames, [parseAltName(caCommonName)]);
  } catch {
    // A CN such as "192.0.2.10@1700000000" (easy-rsa's style) is no host name: no SAN then.
  }
  const clusterName = checkSubjectText(input.clusterName ?? DEFAULTS.clusterName, "--cluster-name");
  return {
    masterIp,
    apiServerPort,
    nodeName,
    nodeNameSource: input.nodeName !== undefined ? "flag" : "hostname",
    controlPlaneEndpoint: input.controlPlaneEndpoint ? parseEndpoint(input.controlPlaneEndpoint, apiServerPort) : undefined,
    serviceCidr,
    serviceIp: serviceIps[0]!,
    serviceIps,
    dnsDomain,
    extraSans: (input.sans ?? []).map((san) => parseAltName(san, "--san")),
    etcdSans: (input.etcdSans ?? []).map((san) => parseAltName(san, "--etcd-san")),
    externalEtcd: Boolean(input.externalEtcd),
    clusterName,
    caCommonName,
    caAltNames,
    caDays: checkDays(input.caDays ?? DEFAULTS.caDays, "--ca-days"),
    days: checkDays(input.days ?? DEFAULTS.days, "--days"),
    keyType: input.keyType ?? DEFAULT_KEY_TYPE,
  };
}

const dns = (value: string): AltName => ({ type: "dns", value });
const ip = (value: string): AltName => ({ type: "ip", value });

/** kubeadm's API server SANs (GetAPIServerAltNames): what a kubeadm-made apiserver.crt has. */
export function kubeadmApiServerAltNames(spec: ClusterSpec): AltNames {
  return addAltNames({ dns: [], ips: [] }, [
    dns("kubernetes"),
    dns("kubernetes.default"),
    dns("kubernetes.default.svc"),
    dns(`kubernetes.default.svc.${spec.dnsDomain}`),
    dns(spec.nodeName),
    ip(spec.masterIp),
    ip(spec.serviceIp),
    ...(spec.controlPlaneEndpoint ? [spec.controlPlaneEndpoint.host] : []),
    ...spec.extraSans,
  ]);
}

/**
 * The SANs kpki gives the API server: kubeadm's plus kubernetes.default.svc.cluster,
 * which the Kubernetes docs' csr.conf lists, and with a dual-stack service
 * subnet the secondary subnet's first IP too (kubeadm names only the
 * primary's), so the certificate covers the Service address of either family.
 */
export function apiServerAltNames(spec: ClusterSpec): AltNames {
  const kubeadm = kubeadmApiServerAltNames(spec);
  const [first, second, third, ...rest] = kubeadm.dns;
  const ips = [...kubeadm.ips, ...spec.serviceIps.filter((address) => !kubeadm.ips.includes(address))];
  return { dns: [first!, second!, third!, "kubernetes.default.svc.cluster", ...rest].filter((name, index, all) => all.indexOf(name) === index), ips };
}

/** etcd server and peer SANs (kubeadm's getAltNames for etcd): node name, localhost, the advertise address, loopbacks. */
export function etcdAltNames(spec: ClusterSpec): AltNames {
  return addAltNames({ dns: [], ips: [] }, [
    dns(spec.nodeName),
    dns("localhost"),
    ip(spec.masterIp),
    ip("127.0.0.1"),
    ip("::1"),
    ...spec.etcdSans,
  ]);
}

const urlHost = (host: AltName) => (host.type === "ip" && host.value.includes(":") ? `[${host.value}]` : host.value);

/** The URL admin.conf and kubelet.conf use: the control-plane endpoint when there is one. */
export function clusterServerUrl(spec: ClusterSpec): string {
  if (spec.controlPlaneEndpoint) return `https://${urlHost(spec.controlPlaneEndpoint.host)}:${spec.controlPlaneEndpoint.port}`;
  return localServerUrl(spec);
}

/** The URL of this node's own API server, which controller-manager.conf and scheduler.conf use. */
export function localServerUrl(spec: ClusterSpec): string {
  return `https://${urlHost(ip(spec.masterIp))}:${spec.apiServerPort}`;
}
