import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseCertificateDer } from "../../src/pki/certinfo.js";
import { buildCsr } from "../../src/pki/csr.js";
import { generateKeyPair } from "../../src/pki/keygen.js";
import type { KeyType } from "../../src/pki/keys.js";
import { PROFILES } from "../../src/pki/profiles.js";
import { createSelfSignedCa, signCsr, signNewKey } from "../../src/pki/sign.js";

// sign.ts gives a new certificate's CertInfo from what it built, not from
// reading the certificate back: every field must be what a parse gives.
const asParsed = (der: Uint8Array) => ({ ...parseCertificateDer(der, "the certificate") });

const label = fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/);
const subject = fc.record({
  commonName: fc.oneof(label, fc.constantFrom("system:node:Cp-1", "Ünïcode name", "a,b+c=d")),
  organizations: fc.array(fc.oneof(label, fc.constantFrom("system:masters", "kubeadm:cluster-admins", "Ölfirma")), { maxLength: 3 }),
});
const altNames = fc.record({
  dns: fc.array(fc.oneof(label, fc.constantFrom("Kubernetes.Default", "*.example.com")), { maxLength: 4 }),
  ips: fc.array(fc.constantFrom("192.0.2.10", "10.96.0.1", "2001:DB8::1", "::1", "::ffff:192.0.2.1", "fe80:0:0:0:0:0:0:1"), { maxLength: 3 }),
});

describe.each<KeyType>(["ecdsa-p256", "rsa-2048"])("a new certificate's CertInfo (%s)", (keyType) => {
  it("is what reading the certificate back gives, field for field, for CAs, signed keys and signed CSRs", async () => {
    const [caKey, leafKey] = await Promise.all([generateKeyPair(keyType), generateKeyPair(keyType)]);
    await fc.assert(
      fc.asyncProperty(subject, subject, altNames, fc.integer({ min: 1, max: 20_000 }), fc.integer({ min: 0, max: 999 }), async (caSubject, leafSubject, names, days, ms) => {
        const now = new Date(Date.UTC(2026, 11, 1, 12, 0, 0, ms));
        const ca = (await createSelfSignedCa(caKey, caSubject, names, { days: days + 30, now })).cert;
        expect({ ...ca }).toEqual(asParsed(ca.der));
        const issuer = { cert: ca, key: caKey };
        for (const profile of [PROFILES.server, PROFILES.client, PROFILES.peer]) {
          const signed = signNewKey(leafKey, leafSubject, names, issuer, profile, { days, now }).cert;
          expect({ ...signed }).toEqual(asParsed(signed.der));
        }
        const fromCsr = (await signCsr(await buildCsr(leafKey, leafSubject, names), issuer, PROFILES.server, { days, now })).cert;
        expect({ ...fromCsr }).toEqual(asParsed(fromCsr.der));
      }),
      { numRuns: keyType === "rsa-2048" ? 15 : 60 },
    );
  });

  it("reads the certificate back for the fields its builder does not know, once", async () => {
    const key = await generateKeyPair(keyType);
    const ca = (await createSelfSignedCa(key, { commonName: "kubernetes", organizations: [] }, { dns: ["kubernetes"], ips: [] }, { days: 10 })).cert;
    expect(ca.keyUsages).toEqual(["digitalSignature", "keyCertSign", "cRLSign"]);
    expect(ca.publicKey).toBe(keyType === "rsa-2048" ? "RSA 2048" : "ECDSA P-256");
  });
});
