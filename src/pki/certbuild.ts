/**
 * X.509 certificates assembled from @peculiar/asn1-x509's structures and
 * signed with node:crypto, synchronously. The same DER @peculiar/x509's
 * X509CertificateGenerator makes (test/unit/certbuild.test.ts compares them
 * byte for byte), without its cost: that generator serializes and re-parses
 * every extension and name, and signs through WebCrypto, a job on libuv's
 * thread pool that queues behind init's primes. Building directly costs a
 * fraction of a millisecond, and signing takes ~1 ms on the main thread.
 */
import { createHash, createPublicKey, sign as signData } from "node:crypto";
import { isIPv4 } from "node:net";
import { CertificationRequestInfo } from "@peculiar/asn1-csr";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import * as asn from "@peculiar/asn1-x509";
import { subjectFromCertificateDer } from "./der.js";
import type { KeyPair, KeyType } from "./keys.js";
import { altNameList, ipToBytes, type AltNames } from "./names.js";
import { keyUsagesFor, EXTENDED_KEY_USAGES, type Profile } from "./profiles.js";

/** What goes into a certificate besides its signature. */
export interface CertTemplate {
  /** The serial as hex: positive, minimal (see serial.ts). */
  serialHex: string;
  issuer: asn.Name;
  subject: asn.Name;
  notBefore: Date;
  notAfter: Date;
  /** The subject's public key, SubjectPublicKeyInfo DER. */
  spki: Uint8Array;
  extensions: asn.Extension[];
}

/** The signature algorithm and hash Go (and kpki) use for each key type. */
const SIGNATURES: Record<KeyType, { oid: string; hash: string; nullParameters: boolean }> = {
  "rsa-2048": { oid: "1.2.840.113549.1.1.11", hash: "sha256", nullParameters: true }, // sha256WithRSAEncryption
  "rsa-3072": { oid: "1.2.840.113549.1.1.11", hash: "sha256", nullParameters: true },
  "rsa-4096": { oid: "1.2.840.113549.1.1.11", hash: "sha256", nullParameters: true },
  "ecdsa-p256": { oid: "1.2.840.10045.4.3.2", hash: "sha256", nullParameters: false }, // ecdsa-with-SHA256
  "ecdsa-p384": { oid: "1.2.840.10045.4.3.3", hash: "sha384", nullParameters: false }, // ecdsa-with-SHA384
};

/** Signs the template with the issuer's key: the certificate's DER. */
export function buildCertificate(template: CertTemplate, signer: KeyPair): Uint8Array<ArrayBuffer> {
  const tbsCertificate = new asn.TBSCertificate({
    version: asn.Version.v3,
    serialNumber: bytes(template.serialHex),
    signature: signatureAlgorithm(signer),
    issuer: template.issuer,
    validity: new asn.Validity({ notBefore: template.notBefore, notAfter: template.notAfter }),
    subject: template.subject,
    subjectPublicKeyInfo: AsnConvert.parse(template.spki, asn.SubjectPublicKeyInfo),
    extensions: new asn.Extensions(template.extensions),
  });
  return signed(new Uint8Array(AsnConvert.serialize(tbsCertificate)), signer);
}

/**
 * SEQUENCE { signed bytes, signatureAlgorithm, signature BIT STRING }, the
 * frame of both a Certificate and a CertificationRequest, around the DER
 * just signed rather than serializing its structure a second time.
 */
function signed(tbs: Uint8Array, signer: KeyPair): Uint8Array<ArrayBuffer> {
  // node:crypto gives ECDSA signatures as DER ECDSA-Sig-Value, the form X.509 carries.
  const signature = signData(SIGNATURES[signer.type].hash, tbs, signer.privateKeyObject);
  return derTlv(0x30, tbs, new Uint8Array(AsnConvert.serialize(signatureAlgorithm(signer))), derTlv(0x03, new Uint8Array([0]), signature));
}

function signatureAlgorithm(signer: KeyPair): asn.AlgorithmIdentifier {
  const { oid, nullParameters } = SIGNATURES[signer.type];
  return new asn.AlgorithmIdentifier(nullParameters ? { algorithm: oid, parameters: null } : { algorithm: oid });
}

/** One DER element: tag, definite length, content (the parts concatenated). */
function derTlv(tag: number, ...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const length = parts.reduce((sum, part) => sum + part.length, 0);
  const lengthBytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) lengthBytes.unshift(rest % 256);
  const header = length < 0x80 ? [tag, length] : [tag, 0x80 | lengthBytes.length, ...lengthBytes];
  const out = new Uint8Array(header.length + length);
  out.set(header);
  let offset = header.length;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** A name from its DER (a subject or issuer as another structure holds it). */
export const nameFromDer = (der: BufferSource): asn.Name => AsnConvert.parse(der, asn.Name);

/** The subject of a certificate, from its DER, for use as the issuer of the certificates it signs. */
export function subjectOfCertificate(der: Uint8Array): asn.Name {
  // Only the subject's bytes are parsed: the ASN.1 library reads a whole certificate in milliseconds.
  return AsnConvert.parse(subjectFromCertificateDer(der), asn.Name);
}

/** A key pair's public key as SubjectPublicKeyInfo DER. */
export const spkiOf = (key: KeyPair): Uint8Array => new Uint8Array(createPublicKey(key.privateKeyObject).export({ type: "spki", format: "der" }));

/** RFC 5280 method 1: SHA-1 of the subjectPublicKey bits, as Go and openssl compute it; hex. */
export function subjectKeyIdOf(spki: Uint8Array): string {
  return createHash("sha1").update(new Uint8Array(AsnConvert.parse(spki, asn.SubjectPublicKeyInfo).subjectPublicKey)).digest("hex");
}

/** The subjectAltName extension (not critical) for these names; none when there are none. */
function subjectAltNameExtension(altNames: AltNames): asn.Extension | undefined {
  const names = altNameList(altNames);
  if (names.length === 0) return undefined;
  const generalNames = names.map((name) => new asn.GeneralName(name.type === "dns" ? { dNSName: name.value } : { iPAddress: ipForAsn1(name.value) }));
  return extension(asn.id_ce_subjectAltName, false, new asn.SubjectAlternativeName(generalNames));
}

/**
 * A PKCS#10 request for the key's own public key, signed by that key, with
 * the SANs in an extensionRequest attribute: the DER @peculiar/x509's
 * Pkcs10CertificateRequestGenerator makes (test/unit/certbuild.test.ts).
 */
export function buildCertificationRequest(subject: asn.Name, altNames: AltNames, key: KeyPair): Uint8Array<ArrayBuffer> {
  const info = new CertificationRequestInfo({ subject, subjectPKInfo: AsnConvert.parse(spkiOf(key), asn.SubjectPublicKeyInfo) });
  const san = subjectAltNameExtension(altNames);
  if (san) info.attributes.push(new asn.Attribute({ type: PKCS9_EXTENSION_REQUEST, values: [AsnConvert.serialize(new asn.Extensions([san]))] }));
  return signed(new Uint8Array(AsnConvert.serialize(info)), key);
}

const PKCS9_EXTENSION_REQUEST = "1.2.840.113549.1.9.14";

/**
 * An IP address as asn1-x509 encodes it right: IPv4 dotted, IPv6 as eight
 * hex groups. Given an IPv6 address with a dotted quad (::ffff:192.0.2.1,
 * the canonical form of a v4-mapped address), it writes the wrong bytes.
 */
function ipForAsn1(ip: string): string {
  if (isIPv4(ip)) return ip;
  const groups = Buffer.from(ipToBytes(ip));
  return Array.from({ length: 8 }, (_, i) => groups.readUInt16BE(2 * i).toString(16)).join(":");
}

/** A fresh ArrayBuffer holding exactly these bytes (a small Buffer's .buffer is a shared pool). */
const bytes = (hex: string): ArrayBuffer => new Uint8Array(Buffer.from(hex, "hex")).buffer;

const extension = (extnID: string, critical: boolean, value: object): asn.Extension =>
  new asn.Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });

/**
 * A profile's extensions, in the order kpki has always written them:
 * basicConstraints and keyUsage (critical), extendedKeyUsage, the subject key
 * id, the SANs, and the authority key id when there is an issuer's.
 */
export function profileExtensions(profile: Profile, keyType: KeyType, ids: { subjectKeyId: string; authorityKeyId?: string }, altNames: AltNames): asn.Extension[] {
  const usages = keyUsagesFor(profile, keyType).reduce((flags, name) => flags | asn.KeyUsageFlags[name], 0);
  const extensions = [
    extension(asn.id_ce_basicConstraints, true, new asn.BasicConstraints({ cA: profile.isCA })),
    extension(asn.id_ce_keyUsage, true, new asn.KeyUsage(usages)),
  ];
  if (profile.extendedKeyUsages.length > 0) {
    extensions.push(extension(asn.id_ce_extKeyUsage, false, new asn.ExtendedKeyUsage(profile.extendedKeyUsages.map((name) => EXTENDED_KEY_USAGES[name]))));
  }
  extensions.push(extension(asn.id_ce_subjectKeyIdentifier, false, new asn.SubjectKeyIdentifier(bytes(ids.subjectKeyId))));
  const san = subjectAltNameExtension(altNames);
  if (san) extensions.push(san);
  if (ids.authorityKeyId) {
    const keyIdentifier = new asn.KeyIdentifier(bytes(ids.authorityKeyId));
    extensions.push(extension(asn.id_ce_authorityKeyIdentifier, false, new asn.AuthorityKeyIdentifier({ keyIdentifier })));
  }
  return extensions;
}
