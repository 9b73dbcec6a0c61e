import { createPublicKey } from "node:crypto";
import { inputError } from "../errors.js";
import { derSequenceItems } from "./der.js";
import type { ParsedCsr } from "./csr.js";
import { signingAlgorithm, type KeyPair } from "./keys.js";
import { altNameList, type AltNames } from "./names.js";
import { keyUsagesFor, EXTENDED_KEY_USAGES, type KeyUsageName, type Profile, PROFILES } from "./profiles.js";
import { randomSerialHex } from "./serial.js";
import { subjectToJsonName, type Subject } from "./subject.js";
import { parseCertificateDer, type CertInfo } from "./certinfo.js";
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

const keyUsageFlags = (names: KeyUsageName[]) =>
  names.reduce((flags, name) => flags | x509.KeyUsageFlags[name], 0);

function profileExtensions(profile: Profile, keyType: KeyPair["type"], subjectKeyId: string, altNames: AltNames) {
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(profile.isCA, undefined, true),
    new x509.KeyUsagesExtension(keyUsageFlags(keyUsagesFor(profile, keyType)), true),
  ];
  if (profile.extendedKeyUsages.length > 0) {
    extensions.push(new x509.ExtendedKeyUsageExtension(profile.extendedKeyUsages.map((name) => EXTENDED_KEY_USAGES[name])));
  }
  extensions.push(new x509.SubjectKeyIdentifierExtension(subjectKeyId));
  const names = altNameList(altNames);
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names));
  return extensions;
}

/** RFC 5280 method 1: SHA-1 of the subjectPublicKey bits, as Go and openssl compute it. */
async function subjectKeyIdOf(publicKey: x509.PublicKey | CryptoKey): Promise<string> {
  return (await x509.SubjectKeyIdentifierExtension.create(publicKey)).keyId;
}

export interface SignedCert {
  cert: CertInfo;
  /** The certificate would have outlived its CA and was cut to the CA's expiry. */
  clampedToIssuer: boolean;
}

/** A self-signed CA certificate (CA:TRUE critical, keyCertSign + cRLSign + digitalSignature). */
export async function createSelfSignedCa(key: KeyPair, subject: Subject, altNames: AltNames, validity: Validity): Promise<SignedCert> {
  const { notBefore, notAfter } = validityWindow(validity);
  const keyId = await subjectKeyIdOf(key.publicKey);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialHex(),
    name: subjectToJsonName(subject),
    notBefore,
    notAfter,
    keys: { privateKey: key.privateKey, publicKey: key.publicKey },
    signingAlgorithm: signingAlgorithm(key.type),
    extensions: profileExtensions(PROFILES.ca, key.type, keyId, altNames),
  });
  return { cert: parseCertificateDer(new Uint8Array(cert.rawData), "new CA certificate"), clampedToIssuer: false };
}

/**
 * Signs a CSR under a profile. The one signing path: `init` signs its own
 * CSRs through it, `cert sign` signs external ones. The CSR contributes its
 * subject, public key and SANs; the profile decides every usage.
 */
export async function signCsr(csr: ParsedCsr, issuer: Issuer, profile: Profile, validity: Validity): Promise<SignedCert> {
  if (profile.isCA) throw inputError(`profile "${profile.name}" makes CAs; kpki signs only leaf certificates from CSRs`);
  if (csr.requestsCA) {
    throw inputError("the CSR asks for basicConstraints CA:TRUE; kpki will not sign a CA from a CSR: make a request without it");
  }
  const problem = signingPolicyProblem(csr);
  if (problem) throw inputError(`${csr.source}: ${problem}`);
  const { notBefore, notAfter, clamped } = validityWindow(validity, issuer.cert);
  if (notAfter <= notBefore) throw inputError("the CA has expired: it cannot sign; a new CA is needed");
  const keyType = keyTypeOfPublicKey(csr.publicKey);
  const keyId = await subjectKeyIdOf(csr.publicKey);
  const extensions = profileExtensions(profile, keyType, keyId, csr.altNames);
  if (issuer.cert.subjectKeyId) extensions.push(new x509.AuthorityKeyIdentifierExtension(issuer.cert.subjectKeyId));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialHex(),
    subject: csr.subjectName,
    issuer: new x509.X509Certificate(new Uint8Array(issuer.cert.der)).subjectName,
    notBefore,
    notAfter,
    publicKey: csr.publicKey,
    signingKey: issuer.key.privateKey,
    signingAlgorithm: signingAlgorithm(issuer.key.type),
    extensions,
  });
  return { cert: parseCertificateDer(new Uint8Array(cert.rawData), "new certificate"), clampedToIssuer: clamped };
}

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
