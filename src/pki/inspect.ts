import { createHash, createPublicKey, type KeyObject } from "node:crypto";
import { inputError } from "../errors.js";
import { parseCertificateDer, colonHex, type CertInfo } from "./certinfo.js";
import { parseCsr } from "./csr.js";
import { describePemLabels, pemBlocks, toPem } from "./der.js";
import { checkPublicKeyShape, PRIVATE_KEY_FORMATS, readPrivateKeyPem } from "./keyshape.js";
import { describeKey } from "./keys.js";
import { altNameList, formatAltName } from "./names.js";

/** A plain description of one PEM object; never includes private key material. */
export type Inspection =
  | ({ kind: "certificate" } & CertificateView)
  | { kind: "certificate-request"; subject: string; altNames: string[]; requestsCA: boolean; publicKey: string; signatureValid: true }
  | { kind: "private-key"; format: string; publicKey: string; publicKeySha256: string }
  | { kind: "public-key"; publicKey: string; publicKeySha256: string };

export interface CertificateView {
  subject: string;
  issuer: string;
  serialNumber: string;
  notBefore: string;
  notAfter: string;
  altNames: string[];
  isCA: boolean;
  keyUsages: string[];
  extendedKeyUsages: string[];
  subjectKeyId?: string;
  authorityKeyId?: string;
  publicKey: string;
  signatureAlgorithm: string;
  sha256Fingerprint: string;
  spkiHash: string;
  selfSigned: boolean;
}

export function certificateView(cert: CertInfo): CertificateView {
  return {
    subject: cert.subject,
    issuer: cert.issuer,
    serialNumber: cert.serialNumber,
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
    altNames: altNameList(cert.altNames).map(formatAltName),
    isCA: cert.isCA,
    keyUsages: cert.keyUsages,
    extendedKeyUsages: cert.extendedKeyUsages,
    subjectKeyId: cert.subjectKeyId,
    authorityKeyId: cert.authorityKeyId,
    publicKey: cert.publicKey,
    signatureAlgorithm: cert.signatureAlgorithm,
    sha256Fingerprint: cert.sha256Fingerprint,
    spkiHash: cert.spkiHash,
    selfSigned: cert.subject === cert.issuer && (cert.authorityKeyId === undefined || cert.authorityKeyId === cert.subjectKeyId),
  };
}

// createPublicKey refuses a KeyObject that is already public (sa.pub): export that one as it is.
const publicKeyHash = (key: KeyObject) =>
  colonHex(createHash("sha256").update((key.type === "public" ? key : createPublicKey(key)).export({ type: "spki", format: "der" })).digest());

/** A `PUBLIC KEY` block, its structure checked before OpenSSL sees it (see keyshape.ts). */
function readPublicKey(der: Buffer, label: string): KeyObject {
  checkPublicKeyShape(der, label);
  try {
    return createPublicKey({ key: der, format: "der", type: "spki" });
  } catch {
    throw inputError(`${label}: the public key in it is damaged and cannot be read`);
  }
}

/**
 * Each certificate costs 1-3 ms to read in full (in a fresh process, on a
 * busy 2-core machine), and more the more names it holds; these keep one
 * inspect near 50 ms whatever the file. A chain is a few certificates of a
 * few KiB.
 */
export const MAX_INSPECTED_BLOCKS = 16;
export const MAX_INSPECTED_BYTES = 64 * 1024;

/** Describes every PEM block of a file (a chain gives one entry per certificate). */
export async function inspect(data: Buffer, label: string): Promise<Inspection[]> {
  const text = data.toString("latin1");
  const blocks = pemBlocks(text);
  if (blocks.length === 0) {
    if (data[0] === 0x30) return [{ kind: "certificate", ...certificateView(parseCertificateDer(data, label)) }];
    throw inputError(`${label} holds no PEM block: give a certificate, CSR or key file (PEM or DER)`);
  }
  if (blocks.length > MAX_INSPECTED_BLOCKS) {
    throw inputError(`${label} holds ${blocks.length} PEM blocks; kpki inspects at most ${MAX_INSPECTED_BLOCKS} (a chain is a few): give the certificate, CSR or key itself`);
  }
  const bytes = blocks.reduce((sum, block) => sum + block.der.length, 0);
  if (bytes > MAX_INSPECTED_BYTES) {
    throw inputError(`${label} holds ${Math.ceil(bytes / 1024)} KiB of DER in its PEM blocks; kpki inspects at most ${MAX_INSPECTED_BYTES / 1024} KiB at once (a chain is a few KiB): give the certificate, CSR or key itself`);
  }
  const results: Inspection[] = [];
  for (const { label: type, der, text: block } of blocks) {
    if (type === "CERTIFICATE") {
      results.push({ kind: "certificate", ...certificateView(parseCertificateDer(der, label)) });
    } else if (type === "CERTIFICATE REQUEST" || type === "NEW CERTIFICATE REQUEST") {
      const csr = await parseCsr(toPem(der, "CERTIFICATE REQUEST"), label);
      const key = createPublicKey({ key: Buffer.from(csr.publicKey.rawData), format: "der", type: "spki" });
      results.push({
        kind: "certificate-request",
        subject: csr.subject,
        altNames: altNameList(csr.altNames).map(formatAltName),
        requestsCA: csr.requestsCA,
        publicKey: describeKey(key),
        signatureValid: true,
      });
    } else if (type in PRIVATE_KEY_FORMATS) {
      const key = readPrivateKeyPem(block, label);
      results.push({ kind: "private-key", format: PRIVATE_KEY_FORMATS[type]!, publicKey: describeKey(key), publicKeySha256: publicKeyHash(key) });
    } else if (type === "PUBLIC KEY") {
      const key = readPublicKey(der, label);
      results.push({ kind: "public-key", publicKey: describeKey(key), publicKeySha256: publicKeyHash(key) });
    } else if (type === "ENCRYPTED PRIVATE KEY") {
      throw inputError(`${label} is an encrypted private key: kpki does not read those; decrypt it with openssl pkey first`);
    } else {
      throw inputError(`${label} holds a ${type} block, which kpki does not read (it holds ${describePemLabels(blocks.map((b) => b.label))})`);
    }
  }
  return results;
}
