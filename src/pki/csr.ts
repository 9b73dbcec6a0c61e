import { inputError, KpkiError } from "../errors.js";
import { buildCertificationRequest } from "./certbuild.js";
import { subjectNames } from "./sign.js";
import { describePemLabels, pemBlock, pemLabels, toPem } from "./der.js";
import { checkPublicKeyShape } from "./keyshape.js";
import type { KeyPair } from "./keys.js";
import { altNameList, dnsNameProblem, formatAltName, type AltNames } from "./names.js";
import { altNamesOf, checkCertificateSize, oneLine } from "./certinfo.js";
import type { Subject } from "./subject.js";
import { x509 } from "./x509.js";


/** A PKCS#10 request, parsed and with its self-signature checked. */
export interface ParsedCsr {
  subject: string;
  subjectName: x509.Name;
  commonName: string;
  altNames: AltNames;
  /** basicConstraints CA:TRUE among the requested extensions. */
  requestsCA: boolean;
  publicKey: x509.PublicKey;
  /** Where it came from, for errors: the file's name, or "the new CSR". */
  source: string;
  /** The subjectAltName extension's value (GeneralNames DER), for the signing policy's byte-level checks. */
  altNamesDer?: Uint8Array;
  der: Uint8Array;
  pem: string;
}

/** Builds a CSR carrying the SANs in its extensionRequest attribute. */
export async function buildCsr(key: KeyPair, subject: Subject, altNames: AltNames): Promise<ParsedCsr> {
  return fromRequest(new x509.Pkcs10CertificateRequest(buildCsrDer(key, subject, altNames)), "the new CSR");
}

/** The PEM of the CSR buildCsr makes, for a caller that signs the key itself and only writes the request. */
export const buildCsrPem = (key: KeyPair, subject: Subject, altNames: AltNames): string => toPem(buildCsrDer(key, subject, altNames), "CERTIFICATE REQUEST");

const buildCsrDer = (key: KeyPair, subject: Subject, altNames: AltNames) => buildCertificationRequest(subjectNames(subject).subject, altNames, key);

const OID_SUBJECT_ALT_NAME = "2.5.29.17";
const OID_BASIC_CONSTRAINTS = "2.5.29.19";

function fromRequest(csr: x509.Pkcs10CertificateRequest, source: string): ParsedCsr {
  const basic = csr.getExtension(OID_BASIC_CONSTRAINTS);
  const san = csr.getExtension(OID_SUBJECT_ALT_NAME);
  return {
    subject: csr.subject,
    subjectName: csr.subjectName,
    commonName: csr.subjectName.getField("CN")[0] ?? "",
    altNames: altNamesOf(san ? new x509.SubjectAlternativeNameExtension(san.rawData) : null),
    requestsCA: basic ? new x509.BasicConstraintsExtension(basic.rawData).ca : false,
    publicKey: csr.publicKey,
    source,
    altNamesDer: san ? new Uint8Array(san.value) : undefined,
    der: new Uint8Array(csr.rawData),
    pem: csr.toString("pem") + "\n",
  };
}

/**
 * Parses a PEM (or DER) CSR and checks its self-signature, so a request that
 * was altered after signing is refused.
 */
export async function parseCsr(data: Buffer | string, label: string): Promise<ParsedCsr> {
  const text = data.toString();
  const der = pemBlock(text, "CERTIFICATE REQUEST") ?? pemBlock(text, "NEW CERTIFICATE REQUEST") ??
    (typeof data !== "string" && data[0] === 0x30 ? data : undefined);
  if (!der) {
    const labels = pemLabels(text);
    throw inputError(
      labels.length > 0
        ? `${label} holds ${describePemLabels(labels)}, not a certificate request: give the CSR file (PEM "CERTIFICATE REQUEST")`
        : `${label} is not a PEM or DER certificate request: give the CSR file`,
    );
  }
  checkCertificateSize(der, label, "certificate request");
  let csr: x509.Pkcs10CertificateRequest;
  let parsed: ParsedCsr;
  try {
    csr = new x509.Pkcs10CertificateRequest(new Uint8Array(der));
    checkPublicKeyShape(new Uint8Array(csr.publicKey.rawData), `${label} (its public key)`);
    parsed = fromRequest(csr, label);
  } catch (error) {
    if (error instanceof KpkiError) throw error;
    throw inputError(`${label} is not a readable PKCS#10 certificate request: ${oneLine(error)}`);
  }
  let valid = false;
  try {
    valid = await csr.verify();
  } catch {
    valid = false;
  }
  if (!valid) throw inputError(`${label}: the request's signature does not verify: it was altered or damaged; make a new CSR`);
  for (const dns of parsed.altNames.dns) {
    const problem = dnsNameProblem(dns);
    if (problem) throw inputError(`${label}: its subjectAltName DNS:${dns} is not a valid DNS name: ${problem}`);
  }
  return parsed;
}

export const describeAltNames = (names: AltNames) => altNameList(names).map(formatAltName).join(", ");
