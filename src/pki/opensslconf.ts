import { loadTemplate, renderTemplate } from "../templates.js";
import type { CertInfo } from "./certinfo.js";
import type { Profile } from "./profiles.js";

const DAY_MS = 24 * 60 * 60 * 1000;

/** openssl's config syntax treats these specially inside values. */
const quote = (value: string) => value.replace(/([\\"$#;])/g, "\\$1");

/**
 * The openssl csr.conf (as on the Kubernetes "Certificates" page) that makes
 * the same request and the same extensions as a certificate kpki signed.
 * Its instructions write new files beside the live ones, never over them
 * (and no ca.srl: a random serial, as kpki gives).
 */
export function renderOpensslConf(cert: CertInfo, profile: Profile, name: string, caName = "ca"): string {
  const dn = [
    ...cert.organizations.map((o, index) => `${index}.O = ${quote(o)}`),
    `CN = ${quote(cert.commonName)}`,
  ];
  const altNames = [
    ...cert.altNames.dns.map((value, index) => `DNS.${index + 1} = ${value}`),
    ...cert.altNames.ips.map((value, index) => `IP.${index + 1} = ${value}`),
  ];
  const bits = cert.publicKey.match(/^RSA (\d+)/)?.[1] ?? "2048";
  const days = Math.max(1, Math.round((cert.notAfter.getTime() - cert.notBefore.getTime()) / DAY_MS));
  return renderTemplate(loadTemplate("csr.conf"), {
    name,
    ca: caName,
    days: String(days),
    bits,
    dn: dn.join("\n"),
    sans: altNames.length > 0 ? "yes" : "",
    alt_names: altNames.join("\n"),
    key_usage: cert.keyUsages.join(", "),
    extended_key_usage: profile.extendedKeyUsages.join(", "),
  });
}

