// Hostile inputs: the smallest reproducers of each failure class the
// reliability harness found (issue 13), built from DER by hand so each one
// is exactly the shape that broke kpki.
import { generateKeyPairSync, webcrypto } from "node:crypto";
import "reflect-metadata";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export const tlv = (tag: number, body: Uint8Array | number[]): Buffer => {
  const bytes = Buffer.from(body);
  const length = bytes.length;
  const header = length < 0x80 ? [length] : length < 0x100 ? [0x81, length] : [0x82, length >> 8, length & 0xff];
  return Buffer.concat([Buffer.from([tag, ...header]), bytes]);
};
export const seq = (...items: Uint8Array[]) => tlv(0x30, Buffer.concat(items));
const oid = (hex: string) => tlv(0x06, Buffer.from(hex, "hex"));
const P256 = oid("2a8648ce3d030107");
const EC_PUBLIC_KEY = oid("2a8648ce3d0201");

export const pem = (label: string, der: Uint8Array) =>
  `-----BEGIN ${label}-----\n${Buffer.from(der).toString("base64").replace(/.{1,64}/g, "$&\n")}-----END ${label}-----\n`;

/** SEC1 P-256 key whose private scalar is 33 bytes: OpenSSL reads it, Node 20 aborts on its details. */
export const ecKeyLongScalar = () => pem("EC PRIVATE KEY", seq(tlv(0x02, [1]), tlv(0x04, Buffer.alloc(33, 0x11)), tlv(0xa0, P256)));

/** SEC1 P-256 key whose public key is the point at infinity (one zero byte): the same abort. */
export const ecKeyPointAtInfinity = () =>
  pem("EC PRIVATE KEY", seq(tlv(0x02, [1]), tlv(0x04, Buffer.alloc(32, 0x11)), tlv(0xa0, P256), tlv(0xa1, tlv(0x03, [0, 0]))));

/** The same long scalar wrapped in PKCS#8. */
export const pkcs8LongScalar = () =>
  pem("PRIVATE KEY", seq(tlv(0x02, [0]), seq(EC_PUBLIC_KEY, P256), tlv(0x04, seq(tlv(0x02, [1]), tlv(0x04, Buffer.alloc(33, 0x11))))));

/** A PUBLIC KEY (SubjectPublicKeyInfo) at infinity: aborts Node on its details, and inside a certificate or CSR too. */
export const spkiAtInfinity = () => seq(seq(EC_PUBLIC_KEY, P256), tlv(0x03, [0, 0]));

/** kpki's own DER reader: "truncated DER" and "unsupported DER length". */
export const truncatedCertificate = () => pem("CERTIFICATE", Buffer.from([0x30, 0x05, 0x30, 0x03]));
export const hugeLengthCertificate = () => pem("CERTIFICATE", Buffer.from([0x30, 0x85, 1, 2, 3, 4, 5]));

const keys = generateKeyPairSync("ec", { namedCurve: "P-256" });
async function cryptoKeys() {
  const privateKey = await webcrypto.subtle.importKey("pkcs8", keys.privateKey.export({ type: "pkcs8", format: "der" }), { name: "ECDSA", namedCurve: "P-256" }, true, ["sign"]);
  const publicKey = await webcrypto.subtle.importKey("spki", keys.publicKey.export({ type: "spki", format: "der" }), { name: "ECDSA", namedCurve: "P-256" }, true, ["verify"]);
  return { privateKey, publicKey };
}
const SIGNING = { name: "ECDSA", hash: "SHA-256" };

/** A self-signed certificate with a raw extension (e.g. a subjectAltName that is no GeneralNames). */
export async function certificateWithExtension(extensionOid: string, value: Uint8Array): Promise<string> {
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01",
    name: "CN=hostile",
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    keys: await cryptoKeys(),
    signingAlgorithm: SIGNING,
    extensions: [new x509.Extension(extensionOid, false, new Uint8Array(value))],
  });
  return cert.toString("pem") + "\n";
}

/** A correctly self-signed CSR carrying a raw extension in its extensionRequest. */
export async function csrWithExtension(extensionOid: string, value: Uint8Array, keyPair?: { privateKey: CryptoKey; publicKey: CryptoKey }): Promise<string> {
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: "CN=hostile",
    keys: keyPair ?? (await cryptoKeys()),
    signingAlgorithm: keyPair ? { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } : SIGNING,
    extensions: [new x509.Extension(extensionOid, false, new Uint8Array(value))],
  });
  return csr.toString("pem") + "\n";
}

export const SAN = "2.5.29.17";
/** GeneralNames holding one iPAddress of `bytes` bytes (4 and 16 are the only valid lengths). */
export const ipSanOfLength = (bytes: number) => seq(tlv(0x87, Array.from({ length: bytes }, (_, i) => i + 1)));
/** A subjectAltName value that is not GeneralNames at all (an INTEGER): @peculiar/x509 throws its schema error. */
export const sanNotGeneralNames = () => tlv(0x02, [1]);

/** A CSR for an RSA key of `bits` bits (RSA-1024: weak). */
export async function rsaCsr(bits: number): Promise<string> {
  const rsa = generateKeyPairSync("rsa", { modulusLength: bits });
  const algorithm = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
  const privateKey = await webcrypto.subtle.importKey("pkcs8", rsa.privateKey.export({ type: "pkcs8", format: "der" }), algorithm, true, ["sign"]);
  const publicKey = await webcrypto.subtle.importKey("spki", rsa.publicKey.export({ type: "spki", format: "der" }), algorithm, true, ["verify"]);
  return csrWithExtension(SAN, seq(tlv(0x82, Buffer.from("weak.example.com"))), { privateKey, publicKey });
}

/** YAML nested `depth` levels (flow sequences) and an alias bomb. */
export const deepYaml = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}\n`;
export const aliasBomb = () =>
  ["a: &a [x, x, x, x, x, x, x, x, x, x]", "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]", "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]", "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]", "e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]", ""].join("\n");

/** Repeated BEGIN lines without an END: quadratic for a lazy regex with a back-reference. */
export const repeatedBeginLines = (bytes: number) => "-----BEGIN CERTIFICATE-----\n".repeat(Math.ceil(bytes / 28));

/** A certificate (signed by a good key) for the public key at infinity: Node aborts reading its key. */
export async function certificateAtInfinity(): Promise<string> {
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: "02",
    subject: "CN=infinity",
    issuer: "CN=hostile",
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    publicKey: new x509.PublicKey(new Uint8Array(spkiAtInfinity())),
    signingKey: (await cryptoKeys()).privateKey,
    signingAlgorithm: SIGNING,
  });
  return cert.toString("pem") + "\n";
}

/** A PKCS#10 request for the key at infinity (its signature cannot verify; checking it is what aborted). */
export const csrAtInfinity = () =>
  pem(
    "CERTIFICATE REQUEST",
    seq(seq(tlv(0x02, [0]), seq(), spkiAtInfinity(), tlv(0xa0, [])), seq(oid("2a8648ce3d040302")), tlv(0x03, [0, 0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01])),
  );
