import { createHmac, createPrivateKey, randomBytes, X509Certificate } from "node:crypto";
import forge from "node-forge";

export interface P12Options {
  certPem: string;
  keyPem: string;
  /** CA certificates to include after the client certificate. */
  chainPems: readonly string[];
  password: string;
  friendlyName: string;
  /**
   * The old choices, for old importers (macOS Keychain before 15, Windows 7):
   * 3DES, PBKDF2 with HMAC-SHA1 and a SHA-1 MAC. Otherwise OpenSSL 3's
   * defaults: AES-256-CBC, PBKDF2-HMAC-SHA256, SHA-256 MAC, 2048 iterations.
   */
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
      // forge passes these on to the key's PBES2; its own MAC is SHA-1 only, so kpki adds a SHA-256 one below.
      ...(options.legacy ? {} : { prfAlgorithm: "sha256" }),
      count: ITERATIONS,
      useMac: Boolean(options.legacy),
      friendlyName: options.friendlyName,
      generateLocalKeyId: true,
    } as Parameters<typeof forge.pkcs12.toPkcs12Asn1>[3]);
  } finally {
    pki.privateKeyToAsn1 = saved.toAsn1;
    pki.wrapRsaPrivateKey = saved.wrap;
    pki.certificateToAsn1 = saved.certToAsn1;
  }
  if (!options.legacy) (asn1.value as forge.asn1.Asn1[]).push(sha256MacData(asn1, options.password));
  return Buffer.from(forge.asn1.toDer(asn1).getBytes(), "binary");
}

const ITERATIONS = 2048;

/**
 * PKCS#12 MacData with HMAC-SHA256 (RFC 7292 appendix B key derivation with
 * SHA-256, a 32-byte key), over the PFX's authSafe content, as OpenSSL 3 writes it.
 */
function sha256MacData(pfx: forge.asn1.Asn1, password: string): forge.asn1.Asn1 {
  const { asn1 } = forge;
  const contentInfo = (pfx.value as forge.asn1.Asn1[])[1]!;
  const authSafe = ((contentInfo.value as forge.asn1.Asn1[])[1]!.value as forge.asn1.Asn1[])[0]!.value as string;
  const salt = randomBytes(8);
  const pbe = (forge.pki as unknown as { pbe: { generatePkcs12Key: (...args: unknown[]) => forge.util.ByteStringBuffer } }).pbe;
  const key = pbe.generatePkcs12Key(password, forge.util.createBuffer(salt.toString("binary")), 3, ITERATIONS, 32, forge.md.sha256.create());
  const mac = createHmac("sha256", Buffer.from(key.getBytes(), "binary")).update(Buffer.from(authSafe, "binary")).digest();
  const { UNIVERSAL } = asn1.Class;
  return asn1.create(UNIVERSAL, asn1.Type.SEQUENCE, true, [
    asn1.create(UNIVERSAL, asn1.Type.SEQUENCE, true, [
      asn1.create(UNIVERSAL, asn1.Type.SEQUENCE, true, [
        asn1.create(UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(forge.pki.oids.sha256!).getBytes()),
        asn1.create(UNIVERSAL, asn1.Type.NULL, false, ""),
      ]),
      asn1.create(UNIVERSAL, asn1.Type.OCTETSTRING, false, mac.toString("binary")),
    ]),
    asn1.create(UNIVERSAL, asn1.Type.OCTETSTRING, false, salt.toString("binary")),
    asn1.create(UNIVERSAL, asn1.Type.INTEGER, false, asn1.integerToDer(ITERATIONS).getBytes()),
  ]);
}
