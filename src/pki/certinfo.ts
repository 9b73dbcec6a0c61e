import { createHash, X509Certificate as NodeX509Certificate } from "node:crypto";
import { inputError, KpkiError } from "../errors.js";
import { describePemLabels, pemBlock, pemLabels, toPem, spkiFromCertificateDer } from "./der.js";
import { checkPublicKeyShape } from "./keyshape.js";
import { describeKey } from "./keys.js";
import { canonicalIp, type AltNames } from "./names.js";
import { caCertHash } from "./pin.js";
import { EXTENDED_KEY_USAGES, type KeyUsageName } from "./profiles.js";
import { x509 } from "./x509.js";
import { AsnConvert } from "@peculiar/asn1-schema";
import * as asn from "@peculiar/asn1-x509";

/** What kpki reads out of a certificate: plain data, for checks and output. */
export interface CertInfo {
  subject: string;
  issuer: string;
  commonName: string;
  organizations: string[];
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  altNames: AltNames;
  isCA: boolean;
  keyUsages: string[];
  extendedKeyUsages: string[];
  subjectKeyId?: string;
  authorityKeyId?: string;
  publicKey: string; // e.g. "RSA 2048"
  signatureAlgorithm: string;
  sha256Fingerprint: string;
  /** kubeadm's pin over the SubjectPublicKeyInfo; meaningful for CAs. */
  spkiHash: string;
  der: Uint8Array;
  pem: string;
}

const keyUsageNames: [number, KeyUsageName | string][] = [
  [x509.KeyUsageFlags.digitalSignature, "digitalSignature"],
  [x509.KeyUsageFlags.nonRepudiation, "nonRepudiation"],
  [x509.KeyUsageFlags.keyEncipherment, "keyEncipherment"],
  [x509.KeyUsageFlags.dataEncipherment, "dataEncipherment"],
  [x509.KeyUsageFlags.keyAgreement, "keyAgreement"],
  [x509.KeyUsageFlags.keyCertSign, "keyCertSign"],
  [x509.KeyUsageFlags.cRLSign, "cRLSign"],
  [x509.KeyUsageFlags.encipherOnly, "encipherOnly"],
  [x509.KeyUsageFlags.decipherOnly, "decipherOnly"],
];

const ekuNames = new Map<string, string>([
  ...Object.entries(EXTENDED_KEY_USAGES).map(([name, oid]) => [oid, name] as [string, string]),
  ["1.3.6.1.5.5.7.3.3", "codeSigning"],
  ["1.3.6.1.5.5.7.3.4", "emailProtection"],
  ["1.3.6.1.5.5.7.3.8", "timeStamping"],
  ["1.3.6.1.5.5.7.3.9", "OCSPSigning"],
]);

export function altNamesOf(extension: x509.SubjectAlternativeNameExtension | null): AltNames {
  const result: AltNames = { dns: [], ips: [] };
  for (const name of extension?.names.items ?? []) {
    if (name.type === "dns") result.dns.push(name.value.toLowerCase());
    if (name.type === "ip") result.ips.push(canonicalIp(name.value));
  }
  return result;
}

/**
 * The certificate's extensions, each parsed once from its value when asked
 * for (the first of each type, as RFC 5280 allows only one). Cheaper than
 * @peculiar/x509's getExtension, which serializes and re-parses every
 * extension of the certificate twice on first use.
 */
function extensionReader(cert: x509.X509Certificate) {
  const values = new Map<string, ArrayBuffer>();
  // The parsed structure is public at run time; the type definitions mark it protected.
  const { tbsCertificate } = (cert as unknown as { asn: asn.Certificate }).asn;
  for (const extension of tbsCertificate.extensions ?? []) {
    if (!values.has(extension.extnID)) values.set(extension.extnID, extension.extnValue.buffer);
  }
  return {
    read<T>(oid: string, type: new () => T): T | undefined {
      const value = values.get(oid);
      return value === undefined ? undefined : AsnConvert.parse(value, type);
    },
  };
}

const hex = (bytes: ArrayBuffer) => Buffer.from(bytes).toString("hex");

/** DNS names (lower-cased) and IP addresses (canonical) among GeneralNames; other kinds are ignored. */
function altNamesOfGeneralNames(names: readonly asn.GeneralName[]): AltNames {
  const result: AltNames = { dns: [], ips: [] };
  for (const name of names) {
    if (name.dNSName !== undefined) result.dns.push(name.dNSName.toLowerCase());
    if (name.iPAddress !== undefined) result.ips.push(canonicalIp(name.iPAddress));
  }
  return result;
}

function namesOf(name: x509.Name, type: string): string[] {
  return name.getField(type);
}

export const colonHex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex").toUpperCase().replace(/(..)(?=.)/g, "$1:");
const sha256Fingerprint = (der: Uint8Array) => colonHex(createHash("sha256").update(der).digest());

function signatureAlgorithmName(algorithm: { name?: string; hash?: { name?: string } }): string {
  const hash = algorithm.hash?.name?.replace("-", "") ?? "";
  if (algorithm.name === "RSASSA-PKCS1-v1_5") return `${hash.toLowerCase()}WithRSAEncryption`;
  if (algorithm.name === "ECDSA") return `ecdsa-with-${hash}`;
  return [algorithm.name, algorithm.hash?.name].filter(Boolean).join(" ");
}

/**
 * The largest certificate or CSR kpki reads. Parsing costs about 0.7 ms per
 * KiB (the ASN.1 library's time grows with the number of names): a
 * certificate with a thousand SANs is 25 KiB, a cluster's are 1-2 KiB.
 */
export const MAX_CERTIFICATE_BYTES = 32 * 1024;

/** Refuses DER above MAX_CERTIFICATE_BYTES before any parser sees it. */
export function checkCertificateSize(der: Uint8Array, label: string, what: string): void {
  if (der.length > MAX_CERTIFICATE_BYTES) {
    throw inputError(`${label} holds a ${what} of ${Math.ceil(der.length / 1024)} KiB, larger than the ${MAX_CERTIFICATE_BYTES / 1024} KiB kpki reads (a certificate with a thousand names is 25 KiB): give the right file`);
  }
}

/**
 * Reads a DER certificate. Every failure, from the ASN.1 library, kpki's DER
 * reader or OpenSSL, is the input error that names `label`; the public key's
 * structure is checked before OpenSSL sees it (see keyshape.ts).
 */
export function parseCertificateDer(der: Uint8Array, label: string): CertInfo {
  checkCertificateSize(der, label, "certificate");
  let spki: Uint8Array;
  try {
    spki = spkiFromCertificateDer(der);
  } catch {
    throw inputError(`${label} is not a readable X.509 certificate: its DER structure is damaged`);
  }
  checkPublicKeyShape(spki, `${label} (its public key)`);
  try {
    return readCertificate(der);
  } catch (error) {
    if (error instanceof KpkiError) throw error;
    throw inputError(`${label} is not a readable X.509 certificate: ${oneLine(error)}`);
  }
}

/** The library's own words about a parse failure, on one line, without its stack. */
export const oneLine = (error: unknown) => (error instanceof Error ? error.message : String(error)).split("\n")[0]!.slice(0, 200);

function readCertificate(der: Uint8Array): CertInfo {
  const cert = new x509.X509Certificate(new Uint8Array(der));
  const extensions = extensionReader(cert);
  const basic = extensions.read(asn.id_ce_basicConstraints, asn.BasicConstraints);
  const keyUsage = extensions.read(asn.id_ce_keyUsage, asn.KeyUsage)?.toNumber();
  const eku = extensions.read(asn.id_ce_extKeyUsage, asn.ExtendedKeyUsage);
  const ski = extensions.read(asn.id_ce_subjectKeyIdentifier, asn.SubjectKeyIdentifier);
  const aki = extensions.read(asn.id_ce_authorityKeyIdentifier, asn.AuthorityKeyIdentifier)?.keyIdentifier;
  const nodeCert = new NodeX509Certificate(der);
  return {
    subject: cert.subject,
    issuer: cert.issuer,
    commonName: namesOf(cert.subjectName, "CN")[0] ?? "",
    organizations: namesOf(cert.subjectName, "O"),
    serialNumber: cert.serialNumber.toLowerCase(),
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    altNames: altNamesOfGeneralNames(extensions.read(asn.id_ce_subjectAltName, asn.SubjectAlternativeName) ?? []),
    isCA: basic?.cA ?? false,
    keyUsages: keyUsage ? keyUsageNames.filter(([flag]) => keyUsage & flag).map(([, name]) => name) : [],
    extendedKeyUsages: eku ? Array.from(eku, (usage) => ekuNames.get(usage) ?? usage) : [],
    subjectKeyId: ski ? hex(ski.buffer) : undefined,
    authorityKeyId: aki ? hex(aki.buffer) : undefined,
    publicKey: describeKey(nodeCert.publicKey),
    signatureAlgorithm: signatureAlgorithmName(cert.signatureAlgorithm),
    sha256Fingerprint: sha256Fingerprint(der),
    spkiHash: caCertHash(der),
    der,
    pem: cert.toString("pem") + "\n",
  };
}

/** What a CertInfo holds that the builder of a certificate does not know without reading it back. */
const READ_BACK = ["keyUsages", "extendedKeyUsages", "publicKey", "signatureAlgorithm"] as const satisfies readonly (keyof CertInfo)[];
type ReadBack = (typeof READ_BACK)[number];

/** What the builder of a certificate knows of it, as a parse would give it. */
export type BuiltCertFields = Omit<CertInfo, ReadBack | "der" | "pem" | "sha256Fingerprint" | "spkiHash">;

/**
 * The CertInfo of a certificate kpki has just built: the fields its builder
 * knows are given, the rest are read from the DER if ever asked for. init
 * asks for none of them, and reading its certificates back through the
 * ASN.1 library cost a quarter of its main thread's time. A test compares
 * every field with a parse of the same DER.
 */
export function builtCertInfo(der: Uint8Array, known: BuiltCertFields): CertInfo {
  let parsed: CertInfo | undefined;
  const info = { ...known, der, pem: toPem(der, "CERTIFICATE"), sha256Fingerprint: sha256Fingerprint(der), spkiHash: caCertHash(der) } as CertInfo;
  for (const field of READ_BACK) {
    Object.defineProperty(info, field, { enumerable: true, configurable: true, get: () => (parsed ??= readCertificate(der))[field] });
  }
  return info;
}

/**
 * Reads the first certificate of a PEM file (or a DER file). Extra blocks,
 * such as a chain after the leaf, are ignored.
 */
export function parseCertificate(data: Buffer | string, label: string): CertInfo {
  const text = data.toString();
  const der = pemBlock(text, "CERTIFICATE");
  if (der) return parseCertificateDer(der, label);
  if (typeof data !== "string" && data[0] === 0x30) return parseCertificateDer(data, label);
  const labels = pemLabels(text);
  throw inputError(
    labels.length > 0
      ? `${label} holds ${describePemLabels(labels)}, not a certificate: give a certificate file (PEM "CERTIFICATE")`
      : `${label} is not a PEM or DER certificate: give a certificate file`,
  );
}
