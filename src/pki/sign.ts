import { createPublicKey } from "node:crypto";
import { inputError } from "../errors.js";
import { derSequenceItems, subjectFromCertificateDer } from "./der.js";
import type { ParsedCsr } from "./csr.js";
import type { KeyPair } from "./keys.js";
import type { Name as AsnName } from "@peculiar/asn1-x509";
import { buildCertificate, nameDer, profileExtensions, spkiOf, subjectKeyIdOf } from "./certbuild.js";
import { canonicalIp, type AltNames } from "./names.js";
import { type Profile, PROFILES } from "./profiles.js";
import { randomSerialHex } from "./serial.js";
import { subjectToJsonName, type Subject } from "./subject.js";
import { builtCertInfo, type CertInfo } from "./certinfo.js";
import { x509 } from "./x509.js";

/** kubeadm backdates NotBefore by five minutes so clocks a little behind still accept new certs. */
export const BACKDATE_MS = 5 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

export interface Validity {
  days: number;
  now?: Date;
}

export interface Issuer {
  cert: CertInfo;
  key: KeyPair;
}

function validityWindow({ days, now = new Date() }: Validity, issuer?: CertInfo) {
  const notBefore = new Date(now.getTime() - BACKDATE_MS);
  let notAfter = new Date(now.getTime() + days * DAY_MS);
  // A certificate cannot outlive its CA usefully; cut it at the CA's end.
  const clamped = issuer !== undefined && notAfter > issuer.notAfter;
  if (clamped) notAfter = issuer.notAfter;
  return { notBefore, notAfter, clamped };
}

export interface SignedCert {
  cert: CertInfo;
  /** The certificate would have outlived its CA and was cut to the CA's expiry. */
  clampedToIssuer: boolean;
}

/** A self-signed CA certificate (CA:TRUE critical, keyCertSign + cRLSign + digitalSignature). */
export async function createSelfSignedCa(key: KeyPair, subject: Subject, altNames: AltNames, validity: Validity): Promise<SignedCert> {
  const request = { ...subjectNames(subject), spki: spkiOf(key), keyType: key.type, altNames };
  return issue(request, { name: request.subject, key }, PROFILES.ca, validity);
}

/**
 * Signs a CSR under a profile. The CSR contributes its subject, public key
 * and SANs; the profile decides every usage. `cert sign` signs external CSRs
 * through it, and init the CSRs it writes (apiserver.csr).
 */
export async function signCsr(csr: ParsedCsr, issuer: Issuer, profile: Profile, validity: Validity): Promise<SignedCert> {
  if (profile.isCA) throw inputError(`profile "${profile.name}" makes CAs; kpki signs only leaf certificates from CSRs`);
  if (csr.requestsCA) {
    throw inputError("the CSR asks for basicConstraints CA:TRUE; kpki will not sign a CA from a CSR: make a request without it");
  }
  const problem = signingPolicyProblem(csr);
  if (problem) throw inputError(`${csr.source}: ${problem}`);
  const request = {
    subject: new Uint8Array(csr.subjectName.toArrayBuffer()),
    subjectName: csr.subjectName,
    spki: new Uint8Array(csr.publicKey.rawData),
    keyType: keyTypeOfPublicKey(csr.publicKey),
    altNames: csr.altNames,
  };
  return issue(request, issuerOf(issuer), profile, validity);
}

/**
 * Signs a leaf certificate for a key kpki made itself (init's, with no CSR to
 * write): what signCsr would sign for that key's CSR, without building,
 * signing and parsing the CSR in between.
 */
export function signNewKey(key: KeyPair, subject: Subject, altNames: AltNames, issuer: Issuer, profile: Profile, validity: Validity): SignedCert {
  if (profile.isCA) throw new Error(`profile "${profile.name}" makes CAs: use createSelfSignedCa`);
  return issue({ ...subjectNames(subject), spki: spkiOf(key), keyType: key.type, altNames }, issuerOf(issuer), profile, validity);
}

/** What a certificate is issued for: a subject, its public key and SANs. */
interface CertRequest {
  /** The subject's Name, DER. */
  subject: Uint8Array;
  /** The same name, as @peculiar/x509 reads and prints it. */
  subjectName: x509.Name;
  spki: Uint8Array;
  keyType: KeyPair["type"];
  altNames: AltNames;
}

/** The one signing path: every certificate kpki makes comes from here. */
function issue(request: CertRequest, issuer: { name: Uint8Array; key: KeyPair; cert?: CertInfo }, profile: Profile, validity: Validity): SignedCert {
  const { notBefore, notAfter, clamped } = validityWindow(validity, issuer.cert);
  if (notAfter <= notBefore) throw inputError("the CA has expired: it cannot sign; a new CA is needed");
  const subjectKeyId = subjectKeyIdOf(request.spki);
  const extensions = profileExtensions(profile, request.keyType, { subjectKeyId, authorityKeyId: issuer.cert?.subjectKeyId }, request.altNames);
  const serialHex = randomSerialHex();
  const der = buildCertificate({ serialHex, issuer: issuer.name, subject: request.subject, notBefore, notAfter, spki: request.spki, extensions }, issuer.key);
  const subject = request.subjectName.toString();
  const cert = builtCertInfo(der, {
    subject,
    issuer: issuer.cert?.subject ?? subject,
    commonName: request.subjectName.getField("CN")[0] ?? "",
    organizations: request.subjectName.getField("O"),
    serialNumber: serialHex,
    // The certificate holds whole seconds.
    notBefore: wholeSeconds(notBefore),
    notAfter: wholeSeconds(notAfter),
    altNames: { dns: request.altNames.dns.map((name) => name.toLowerCase()), ips: request.altNames.ips.map(canonicalIp) },
    isCA: profile.isCA,
    subjectKeyId,
    authorityKeyId: issuer.cert?.subjectKeyId,
  });
  return { cert, clampedToIssuer: clamped };
}

const wholeSeconds = (date: Date) => new Date(Math.floor(date.getTime() / 1000) * 1000);

/** The subject as @peculiar/x509 encodes a name (PrintableString where it can, else UTF8String): DER, and the Name that prints it. */
export function subjectNames(subject: Subject): { subject: Uint8Array; subjectName: x509.Name } {
  const subjectName = new x509.Name(subjectToJsonName(subject));
  // The ASN.1 structure the Name holds (public at run time, protected in its types).
  return { subject: nameDer((subjectName as unknown as { asn: AsnName }).asn), subjectName };
}

/** A CA's name as its certificate holds it: the issuer of what it signs. */
const issuerOf = (issuer: Issuer) => ({ name: subjectFromCertificateDer(issuer.cert.der), key: issuer.key, cert: issuer.cert });

const IP_ADDRESS_TAG = 0x87; // GeneralName iPAddress, [7] IMPLICIT OCTET STRING
const EC_CURVES_SIGNED = new Set(["P-256", "P-384", "P-521"]);
const MIN_RSA_BITS = 2048;

/**
 * What kpki refuses to vouch for in a CSR, as cfssl's signing policy does;
 * each refusal names the CSR field. (DNS names are checked when the CSR is
 * read: parseCsr refuses a name that is not valid.)
 */
export function signingPolicyProblem(csr: ParsedCsr): string | undefined {
  const algorithm = csr.publicKey.algorithm as { name?: string; namedCurve?: string; modulusLength?: number };
  if (algorithm.name === "RSASSA-PKCS1-v1_5" || algorithm.name === "RSA-PSS") {
    const bits = createPublicKey({ key: Buffer.from(csr.publicKey.rawData), format: "der", type: "spki" }).asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS) return `its subjectPublicKeyInfo is an RSA key of ${bits} bits: kpki signs RSA keys of ${MIN_RSA_BITS} bits or more; make a new key and CSR`;
  } else if (!(algorithm.name === "ECDSA" && EC_CURVES_SIGNED.has(algorithm.namedCurve ?? ""))) {
    const kind = [algorithm.name, algorithm.namedCurve].filter(Boolean).join(" ") || "unknown";
    return `its subjectPublicKeyInfo is a ${kind} key: kpki signs RSA (2048 bits or more) and ECDSA P-256, P-384 or P-521 keys`;
  }
  if (csr.altNamesDer) {
    let names: { tag: number; content: Uint8Array }[];
    try {
      names = derSequenceItems(csr.altNamesDer);
    } catch {
      return "its subjectAltName extension is not valid DER";
    }
    for (const name of names) {
      if (name.tag === IP_ADDRESS_TAG && name.content.length !== 4 && name.content.length !== 16) {
        return `its subjectAltName has an iPAddress of ${name.content.length} bytes, which is no IP address (IPv4 is 4 bytes, IPv6 16); make a new CSR`;
      }
    }
  }
  return undefined;
}

/** RSA keys get keyEncipherment; the size does not matter to usages. */
function keyTypeOfPublicKey(publicKey: x509.PublicKey): KeyPair["type"] {
  return publicKey.algorithm.name === "ECDSA" ? "ecdsa-p256" : "rsa-2048";
}

export type { Subject };
