/**
 * X.509 certificates and PKCS#10 requests built as DER (derencode.ts) and
 * signed with node:crypto, synchronously. The same DER @peculiar/x509's
 * generators make (test/unit/certbuild.test.ts compares them byte for byte),
 * without their cost: they build, serialize and re-parse an ASN.1 object
 * graph for every extension and name, and sign through WebCrypto, a job on
 * libuv's thread pool that queues behind init's primes.
 */
import { createHash, createPublicKey, sign as signData } from "node:crypto";
import { AsnConvert } from "@peculiar/asn1-schema";
import { id_ce_authorityKeyIdentifier, id_ce_basicConstraints, id_ce_extKeyUsage, id_ce_keyUsage, id_ce_subjectAltName, id_ce_subjectKeyIdentifier, KeyUsageFlags, type Name } from "@peculiar/asn1-x509";
import { derSequenceItems } from "./der.js";
import { ascii, bitString, explicit, implicitPrimitive, namedBits, NULL, octetString, oid, sequence, setOf, smallInteger, time, tlv, TRUE, unsignedInteger } from "./derencode.js";
import type { KeyPair, KeyType } from "./keys.js";
import { altNameList, sanIpBytes, type AltNames } from "./names.js";
import { keyUsagesFor, EXTENDED_KEY_USAGES, type Profile } from "./profiles.js";

/** What goes into a certificate besides its signature. */
export interface CertTemplate {
  /** The serial as hex: positive, minimal (see serial.ts). */
  serialHex: string;
  /** The issuer's Name, DER (the subject as it stands in the CA's certificate). */
  issuer: Uint8Array;
  /** The subject's Name, DER. */
  subject: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  /** The subject's public key, SubjectPublicKeyInfo DER. */
  spki: Uint8Array;
  /** Each Extension, DER, in order (profileExtensions). */
  extensions: Uint8Array[];
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
  const tbsCertificate = sequence(
    explicit(0, smallInteger(2)), // v3
    unsignedInteger(Buffer.from(template.serialHex, "hex")),
    signatureAlgorithm(signer),
    template.issuer,
    sequence(time(template.notBefore), time(template.notAfter)),
    template.subject,
    template.spki,
    explicit(3, sequence(...template.extensions)),
  );
  return signed(tbsCertificate, signer);
}

/** SEQUENCE { signed bytes, signatureAlgorithm, signature BIT STRING }: the frame of both a Certificate and a CertificationRequest. */
function signed(tbs: Uint8Array, signer: KeyPair): Uint8Array<ArrayBuffer> {
  // node:crypto gives ECDSA signatures as DER ECDSA-Sig-Value, the form X.509 carries.
  const signature = signData(SIGNATURES[signer.type].hash, tbs, signer.privateKeyObject);
  return sequence(tbs, signatureAlgorithm(signer), bitString(signature));
}

/** AlgorithmIdentifier: RSA's with NULL parameters, ECDSA's with none (RFC 4055, RFC 5758). */
function signatureAlgorithm(signer: KeyPair): Uint8Array {
  const { oid: algorithm, nullParameters } = SIGNATURES[signer.type];
  return nullParameters ? sequence(oid(algorithm), NULL) : sequence(oid(algorithm));
}

const NAME_STRING_TAGS = { printableString: 0x13, utf8String: 0x0c, ia5String: 0x16 } as const;

/**
 * A Name's DER from its ASN.1 structure (the one @peculiar/x509's Name holds),
 * for the string types kpki's names use; others go through the library.
 */
export function nameDer(name: Name): Uint8Array {
  const rdns: Uint8Array[] = [];
  for (const rdn of name) {
    const values: Uint8Array[] = [];
    for (const { type, value } of rdn) {
      const kind = (Object.keys(NAME_STRING_TAGS) as (keyof typeof NAME_STRING_TAGS)[]).find((key) => value[key] !== undefined);
      if (!kind) return new Uint8Array(AsnConvert.serialize(name));
      values.push(sequence(oid(type), tlv(NAME_STRING_TAGS[kind], Buffer.from(value[kind]!, kind === "utf8String" ? "utf8" : "latin1"))));
    }
    rdns.push(setOf(...values));
  }
  return sequence(...rdns);
}

/** A key pair's public key as SubjectPublicKeyInfo DER. */
export const spkiOf = (key: KeyPair): Uint8Array => new Uint8Array(createPublicKey(key.privateKeyObject).export({ type: "spki", format: "der" }));

/** RFC 5280 method 1: SHA-1 of the subjectPublicKey bits, as Go and openssl compute it; hex. */
export function subjectKeyIdOf(spki: Uint8Array): string {
  const subjectPublicKey = derSequenceItems(spki)[1];
  if (subjectPublicKey?.tag !== 0x03) throw new Error("not a SubjectPublicKeyInfo");
  return createHash("sha1").update(subjectPublicKey.content.subarray(1)).digest("hex");
}

/** The subjectAltName extension (not critical) for these names; none when there are none. */
function subjectAltNameExtension(altNames: AltNames): Uint8Array | undefined {
  const names = altNameList(altNames);
  if (names.length === 0) return undefined;
  // GeneralName dNSName [2] IA5String, iPAddress [7] OCTET STRING, both IMPLICIT.
  return extension(id_ce_subjectAltName, false, sequence(...names.map((name) => (name.type === "dns" ? implicitPrimitive(2, ascii(name.value)) : implicitPrimitive(7, sanIpBytes(name.value))))));
}

/**
 * A PKCS#10 request for the key's own public key, signed by that key, with
 * the SANs in an extensionRequest attribute: the DER @peculiar/x509's
 * Pkcs10CertificateRequestGenerator makes (test/unit/certbuild.test.ts).
 */
export function buildCertificationRequest(subject: Uint8Array, altNames: AltNames, key: KeyPair): Uint8Array<ArrayBuffer> {
  const san = subjectAltNameExtension(altNames);
  const attributes = san ? [sequence(oid(PKCS9_EXTENSION_REQUEST), setOf(sequence(san)))] : [];
  // attributes [0] IMPLICIT SET OF Attribute: the same octets as a constructed [0] around them.
  return signed(sequence(smallInteger(0), subject, spkiOf(key), explicit(0, ...attributes)), key);
}

const PKCS9_EXTENSION_REQUEST = "1.2.840.113549.1.9.14";

/** Extension ::= SEQUENCE { extnID, critical DEFAULT FALSE (so left out when false), extnValue OCTET STRING }. */
const extension = (extnID: string, critical: boolean, value: Uint8Array): Uint8Array =>
  critical ? sequence(oid(extnID), TRUE, octetString(value)) : sequence(oid(extnID), octetString(value));

/**
 * A profile's extensions, in the order kpki has always written them:
 * basicConstraints and keyUsage (critical), extendedKeyUsage, the subject key
 * id, the SANs, and the authority key id when there is an issuer's.
 */
export function profileExtensions(profile: Profile, keyType: KeyType, ids: { subjectKeyId: string; authorityKeyId?: string }, altNames: AltNames): Uint8Array[] {
  const usages = keyUsagesFor(profile, keyType).reduce((flags, name) => flags | KeyUsageFlags[name], 0);
  const extensions = [
    extension(id_ce_basicConstraints, true, profile.isCA ? sequence(TRUE) : sequence()),
    extension(id_ce_keyUsage, true, namedBits(usages)),
  ];
  if (profile.extendedKeyUsages.length > 0) {
    extensions.push(extension(id_ce_extKeyUsage, false, sequence(...profile.extendedKeyUsages.map((name) => oid(EXTENDED_KEY_USAGES[name])))));
  }
  extensions.push(extension(id_ce_subjectKeyIdentifier, false, octetString(Buffer.from(ids.subjectKeyId, "hex"))));
  const san = subjectAltNameExtension(altNames);
  if (san) extensions.push(san);
  // AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING }
  if (ids.authorityKeyId) extensions.push(extension(id_ce_authorityKeyIdentifier, false, sequence(implicitPrimitive(0, Buffer.from(ids.authorityKeyId, "hex")))));
  return extensions;
}
