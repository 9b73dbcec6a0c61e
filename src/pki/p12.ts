import { createPrivateKey, X509Certificate } from "node:crypto";
import forge from "node-forge";

export interface P12Options {
  certPem: string;
  keyPem: string;
  /** CA certificates to include after the client certificate. */
  chainPems: readonly string[];
  password: string;
  friendlyName: string;
  /** 3DES instead of AES-256, for old importers (macOS Keychain before 15, Windows 7). */
  legacy?: boolean;
}

/**
 * A PKCS#12 bundle of a client certificate, its key and its CA, for importing
 * an identity into a browser (e.g. for the dashboard). node-forge is the one
 * dependency that writes PKCS#12; it only models RSA keys, so the key goes in
 * as the PKCS#8 PrivateKeyInfo Node makes, which works for RSA and ECDSA alike.
 */
export function buildP12(options: P12Options): Buffer {
  const pkcs8 = createPrivateKey(options.keyPem).export({ type: "pkcs8", format: "der" });
  const privateKeyInfo = forge.asn1.fromDer(forge.util.createBuffer(pkcs8.toString("binary")));
  // forge.pki.certificateFromPem refuses any key but RSA ("OID is not RSA"):
  // carry each certificate as its own DER, parsed only as ASN.1 (forge keeps
  // BIT STRING bytes, so it re-encodes the very same DER).
  const certificates = [options.certPem, ...options.chainPems].map((pem) => ({
    asn1: forge.asn1.fromDer(forge.util.createBuffer(new X509Certificate(pem).raw.toString("binary"))),
  }));
  // toPkcs12Asn1 asks forge to turn a forge RSA key into a PrivateKeyInfo and
  // forge certificates into ASN.1; for the duration of this synchronous call,
  // hand it Node's key and the certificates' own ASN.1 instead.
  const pki = forge.pki as unknown as Record<string, unknown>;
  const saved = { toAsn1: pki.privateKeyToAsn1, wrap: pki.wrapRsaPrivateKey, certToAsn1: pki.certificateToAsn1 };
  pki.privateKeyToAsn1 = () => privateKeyInfo;
  pki.wrapRsaPrivateKey = (asn1: unknown) => asn1;
  pki.certificateToAsn1 = (cert: { asn1: forge.asn1.Asn1 }) => cert.asn1;
  let asn1: forge.asn1.Asn1;
  try {
    asn1 = forge.pkcs12.toPkcs12Asn1({} as forge.pki.rsa.PrivateKey, certificates as unknown as forge.pki.Certificate[], options.password, {
      algorithm: options.legacy ? "3des" : "aes256",
      friendlyName: options.friendlyName,
      generateLocalKeyId: true,
    });
  } finally {
    pki.privateKeyToAsn1 = saved.toAsn1;
    pki.wrapRsaPrivateKey = saved.wrap;
    pki.certificateToAsn1 = saved.certToAsn1;
  }
  return Buffer.from(forge.asn1.toDer(asn1).getBytes(), "binary");
}
