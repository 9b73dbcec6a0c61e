import { createPublicKey, X509Certificate as NodeX509Certificate, type KeyObject } from "node:crypto";
import { spkiFromCertificateDer } from "./der.js";
import type { CertInfo } from "./certinfo.js";
import type { ExtendedKeyUsageName } from "./profiles.js";
import { canonicalIp, ipFamily } from "./names.js";

/** One reason a certificate fails; `code` is stable for scripts. */
export interface VerifyProblem {
  code:
    | "not-issued-by-ca"
    | "bad-signature"
    | "ca-not-a-ca"
    | "ca-expired"
    | "ca-not-yet-valid"
    | "expired"
    | "not-yet-valid"
    | "host-mismatch"
    | "key-mismatch"
    | "wrong-purpose";
  message: string;
}

export interface VerifyRequest {
  cert: CertInfo;
  ca: CertInfo;
  /** A DNS name or IP the certificate must cover. */
  host?: string;
  key?: KeyObject;
  /** Extended key usages the certificate must carry. */
  usages?: readonly ExtendedKeyUsageName[];
  now?: Date;
}

const day = (date: Date) => date.toISOString().replace(/\.\d+Z$/, "Z");

/** Does this private key belong to the certificate? Compares SubjectPublicKeyInfo bytes. */
export function keyMatchesCert(key: KeyObject, cert: CertInfo): boolean {
  const fromKey = createPublicKey(key).export({ type: "spki", format: "der" });
  const fromCert = createPublicKey({ key: Buffer.from(spkiFromCertificateDer(cert.der)), format: "der", type: "spki" }).export({ type: "spki", format: "der" });
  return fromKey.equals(fromCert);
}

/** Every way `cert` fails the request; an empty list means it verifies. */
export function verifyCertificate(request: VerifyRequest): VerifyProblem[] {
  const { cert, ca, now = new Date() } = request;
  const problems: VerifyProblem[] = [];
  const nodeCert = new NodeX509Certificate(cert.der);
  const nodeCa = new NodeX509Certificate(ca.der);
  if (!ca.isCA || (ca.keyUsages.length > 0 && !ca.keyUsages.includes("keyCertSign"))) {
    problems.push({ code: "ca-not-a-ca", message: `the CA certificate (${ca.subject}) is not a CA: it lacks CA:TRUE or keyCertSign` });
  }
  if (!nodeCert.checkIssued(nodeCa)) {
    problems.push({
      code: "not-issued-by-ca",
      message:
        cert.issuer === ca.subject
          ? `issued by another CA also named "${ca.subject}": its authority key ID does not match this CA's key`
          : `issued by "${cert.issuer}", not by this CA ("${ca.subject}")`,
    });
  } else if (!nodeCert.verify(nodeCa.publicKey)) {
    problems.push({ code: "bad-signature", message: `names this CA as issuer but its signature does not verify with the CA's key` });
  }
  if (now > ca.notAfter) problems.push({ code: "ca-expired", message: `the CA expired on ${day(ca.notAfter)}` });
  if (now < ca.notBefore) problems.push({ code: "ca-not-yet-valid", message: `the CA is not valid before ${day(ca.notBefore)}` });
  if (now > cert.notAfter) problems.push({ code: "expired", message: `expired on ${day(cert.notAfter)}` });
  if (now < cert.notBefore) problems.push({ code: "not-yet-valid", message: `not valid before ${day(cert.notBefore)}` });
  if (request.host !== undefined) {
    const host = request.host.replace(/^\[(.*)\]$/, "$1");
    if (!certCoversHost(nodeCert, host)) {
      const sans = [...cert.altNames.dns.map((d) => `DNS:${d}`), ...cert.altNames.ips.map((ip) => `IP:${ip}`)].join(", ") || "none";
      problems.push({ code: "host-mismatch", message: `does not cover ${host} (its SANs: ${sans})` });
    }
  }
  if (request.key && !keyMatchesCert(request.key, cert)) {
    problems.push({ code: "key-mismatch", message: "the private key does not belong to this certificate" });
  }
  const missingUsages = (request.usages ?? []).filter((usage) => !cert.extendedKeyUsages.includes(usage));
  if (missingUsages.length > 0) {
    problems.push({ code: "wrong-purpose", message: `lacks extended key usage ${missingUsages.join(", ")} (has ${cert.extendedKeyUsages.join(", ") || "none"})` });
  }
  return problems;
}

/**
 * Whether the certificate's SANs cover a host name or IP address (never its
 * subject's CN), as Go's clients check: an IPv4 address and its IPv4-mapped
 * form are one address, whichever a SAN holds (4 bytes, as Go writes it, or
 * 16, as OpenSSL and older kpki did), while OpenSSL's check compares bytes.
 */
export function certCoversHost(cert: NodeX509Certificate, host: string): boolean {
  if (!ipFamily(host)) return cert.checkHost(host, { subject: "never" }) !== undefined;
  const address = canonicalIp(host);
  const forms = ipFamily(address) === 4 ? [address, `::ffff:${address}`] : [address];
  return forms.some((form) => cert.checkIP(form) !== undefined);
}
