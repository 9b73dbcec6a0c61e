import { X509Certificate } from "node:crypto";
import { AsnConvert } from "@peculiar/asn1-schema";
import { CertificationRequest } from "@peculiar/asn1-csr";
import { Certificate } from "@peculiar/asn1-x509";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import type { Name } from "@peculiar/asn1-x509";
import { buildCertificate, buildCertificationRequest, nameDer, profileExtensions, spkiOf, subjectKeyIdOf } from "../../src/pki/certbuild.js";
import { subjectFromCertificateDer } from "../../src/pki/der.js";
import { generateKeyPair } from "../../src/pki/keygen.js";
import { signingAlgorithm, type KeyPair, type KeyType } from "../../src/pki/keys.js";
import { altNameList, type AltNames } from "../../src/pki/names.js";
import { EXTENDED_KEY_USAGES, keyUsagesFor, PROFILES, type Profile } from "../../src/pki/profiles.js";
import { randomSerialHex } from "../../src/pki/serial.js";
import { subjectToJsonName, type Subject } from "../../src/pki/subject.js";
import { x509 } from "../../src/pki/x509.js";

// kpki built its certificates with @peculiar/x509's generator before
// certbuild.ts: that generator is the reference, byte for byte.

async function referenceCertificate(serialHex: string, subject: Subject, altNames: AltNames, key: KeyPair, profile: Profile, issuer: { name: Subject; key: KeyPair; keyId?: string }, notBefore: Date, notAfter: Date) {
  const flags = keyUsagesFor(profile, key.type).reduce((all, name) => all | x509.KeyUsageFlags[name], 0);
  const extensions: x509.Extension[] = [new x509.BasicConstraintsExtension(profile.isCA, undefined, true), new x509.KeyUsagesExtension(flags, true)];
  if (profile.extendedKeyUsages.length > 0) extensions.push(new x509.ExtendedKeyUsageExtension(profile.extendedKeyUsages.map((name) => EXTENDED_KEY_USAGES[name])));
  extensions.push(await x509.SubjectKeyIdentifierExtension.create(key.publicKey));
  const names = altNameList(altNames);
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names));
  if (issuer.keyId) extensions.push(new x509.AuthorityKeyIdentifierExtension(issuer.keyId));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialHex,
    subject: new x509.Name(subjectToJsonName(subject)),
    issuer: new x509.Name(subjectToJsonName(issuer.name)),
    notBefore,
    notAfter,
    publicKey: key.publicKey,
    signingKey: issuer.key.privateKey,
    signingAlgorithm: signingAlgorithm(issuer.key.type),
    extensions,
  });
  return new Uint8Array(cert.rawData);
}

const subjectDer = (subject: Subject) => new Uint8Array(new x509.Name(subjectToJsonName(subject)).toArrayBuffer());
const tbsOf = (der: Uint8Array) => Buffer.from(AsnConvert.serialize(AsnConvert.parse(der, Certificate).tbsCertificate));

describe.each<KeyType>(["rsa-2048", "ecdsa-p256", "ecdsa-p384"])("certificates built with asn1-x509 and node:crypto (%s)", (keyType) => {
  it("are what @peculiar/x509's generator makes from the same inputs, and verify", async () => {
    const [caKey, leafKey] = await Promise.all([generateKeyPair(keyType), generateKeyPair(keyType)]);
    const notBefore = new Date("2026-01-01T00:00:00Z");
    const notAfter = new Date("2051-06-01T00:00:00Z"); // past 2049: GeneralizedTime, not UTCTime
    const caSubject = { commonName: "kubernetes", organizations: [] };
    const leafSubject = { commonName: "kube-apiserver", organizations: ["kubeadm:cluster-admins", "Ünïcode"] };
    const altNames = { dns: ["kubernetes", "kubernetes.default.svc.cluster.local"], ips: ["192.0.2.10", "2001:db8::1", "::1"] };
    const caKeyId = subjectKeyIdOf(spkiOf(caKey));

    const caSerial = randomSerialHex();
    const caName = subjectDer(caSubject);
    const ca = buildCertificate({ serialHex: caSerial, issuer: caName, subject: caName, notBefore, notAfter, spki: spkiOf(caKey), extensions: profileExtensions(PROFILES.ca, keyType, { subjectKeyId: caKeyId }, { dns: ["kubernetes"], ips: [] }) }, caKey);
    const caReference = await referenceCertificate(caSerial, caSubject, { dns: ["kubernetes"], ips: [] }, caKey, PROFILES.ca, { name: caSubject, key: caKey }, notBefore, notAfter);

    const leafSerial = randomSerialHex();
    const leafExtensions = profileExtensions(PROFILES.peer, keyType, { subjectKeyId: subjectKeyIdOf(spkiOf(leafKey)), authorityKeyId: caKeyId }, altNames);
    const leaf = buildCertificate({ serialHex: leafSerial, issuer: subjectFromCertificateDer(ca), subject: subjectDer(leafSubject), notBefore, notAfter, spki: spkiOf(leafKey), extensions: leafExtensions }, caKey);
    const leafReference = await referenceCertificate(leafSerial, leafSubject, altNames, leafKey, PROFILES.peer, { name: caSubject, key: caKey, keyId: caKeyId }, notBefore, notAfter);

    if (keyType.startsWith("rsa")) {
      // PKCS#1 v1.5 signatures are deterministic: the whole certificate is the same.
      expect(Buffer.from(ca).equals(Buffer.from(caReference))).toBe(true);
      expect(Buffer.from(leaf).equals(Buffer.from(leafReference))).toBe(true);
    } else {
      expect(tbsOf(ca).equals(tbsOf(caReference))).toBe(true);
      expect(tbsOf(leaf).equals(tbsOf(leafReference))).toBe(true);
    }
    const caCert = new x509.X509Certificate(ca);
    expect(await caCert.verify({ publicKey: caCert.publicKey, signatureOnly: true })).toBe(true);
    expect(await new x509.X509Certificate(leaf).verify({ publicKey: caCert.publicKey, signatureOnly: true })).toBe(true);
  });
});

describe("names as DER", () => {
  it("are what @peculiar/x509 serializes for the same subject: PrintableString where it can, else UTF8String", () => {
    const text = fc.oneof(fc.string({ minLength: 1, maxLength: 30 }), fc.string({ unit: "grapheme", minLength: 1, maxLength: 10 }), fc.stringMatching(/^[A-Za-z0-9 '()+,./:=?-]{1,30}$/), fc.constantFrom("system:masters", "Ünïcode", "名前", "a\\b", "#abc", "#0c03616263", 'my "ca"', "a\\0ab", "\\,x"));
    fc.assert(
      fc.property(text, fc.array(text, { maxLength: 3 }), (commonName, organizations) => {
        const name = new x509.Name(subjectToJsonName({ commonName, organizations }));
        const der = nameDer((name as unknown as { asn: Name }).asn);
        expect(Buffer.from(der).equals(Buffer.from(name.toArrayBuffer()))).toBe(true);
        // Exactly the text given: no "#" read as hex, no quotes or backslashes taken away.
        const read = new x509.Name(new Uint8Array(der));
        expect(read.getField("CN")).toEqual([commonName]);
        expect(read.getField("O")).toEqual(organizations);
      }),
    );
  });
});

describe("IP addresses in certificates", () => {
  it("are the addresses given, as OpenSSL reads them; a v4-mapped IPv6 address in 4 bytes, as Go's x509 writes it", async () => {
    const key = await generateKeyPair("ecdsa-p256");
    const name = subjectDer({ commonName: "kube-apiserver", organizations: [] });
    const ips = ["192.0.2.10", "::ffff:192.0.2.1", "2001:db8::1", "::1"];
    const der = buildCertificate({ serialHex: randomSerialHex(), issuer: name, subject: name, notBefore: new Date("2026-01-01T00:00:00Z"), notAfter: new Date("2027-01-01T00:00:00Z"), spki: spkiOf(key), extensions: profileExtensions(PROFILES.server, key.type, { subjectKeyId: subjectKeyIdOf(spkiOf(key)) }, { dns: [], ips }) }, key);
    expect(new X509Certificate(der).subjectAltName).toBe("IP Address:192.0.2.10, IP Address:192.0.2.1, IP Address:2001:DB8:0:0:0:0:0:1, IP Address:0:0:0:0:0:0:0:1");
  });
});

describe.each<KeyType>(["rsa-2048", "ecdsa-p256"])("certificate requests built with asn1-csr and node:crypto (%s)", (keyType) => {
  it("are what @peculiar/x509's generator makes, with and without SANs, and verify", async () => {
    const key = await generateKeyPair(keyType);
    const subject = { commonName: "kube-apiserver", organizations: ["Ünïcode"] };
    for (const altNames of [{ dns: ["kubernetes", "kubernetes.default"], ips: ["192.0.2.10", "2001:db8::1"] }, { dns: [], ips: [] }]) {
      const names = altNameList(altNames);
      const reference = await x509.Pkcs10CertificateRequestGenerator.create({
        name: new x509.Name(subjectToJsonName(subject)),
        keys: { privateKey: key.privateKey, publicKey: key.publicKey },
        signingAlgorithm: signingAlgorithm(key.type),
        extensions: names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names)] : [],
      });
      const built = buildCertificationRequest(subjectDer(subject), altNames, key);
      const info = (der: ArrayBufferLike | Uint8Array) => Buffer.from(AsnConvert.serialize(AsnConvert.parse(der, CertificationRequest).certificationRequestInfo));
      if (keyType.startsWith("rsa")) expect(Buffer.from(built).equals(Buffer.from(reference.rawData))).toBe(true);
      else expect(info(built).equals(info(reference.rawData))).toBe(true);
      expect(await new x509.Pkcs10CertificateRequest(built).verify()).toBe(true);
    }
  });
});
