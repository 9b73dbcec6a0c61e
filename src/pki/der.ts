/**
 * Just enough DER to find a certificate's SubjectPublicKeyInfo bytes as they
 * stand in the certificate (kubeadm pins over RawSubjectPublicKeyInfo), without
 * loading an ASN.1 library for one field.
 */
interface Tlv {
  tag: number;
  start: number; // first byte of the tag
  contentStart: number;
  end: number; // one past the last content byte
}

function readTlv(der: Uint8Array, offset: number): Tlv {
  const tag = der[offset];
  let length = der[offset + 1];
  if (tag === undefined || length === undefined) throw new Error("truncated DER");
  let contentStart = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4) throw new Error("unsupported DER length");
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (der[contentStart + i] ?? 0);
    contentStart += count;
  }
  const end = contentStart + length;
  if (end > der.length) throw new Error("truncated DER");
  return { tag, start: offset, contentStart, end };
}

/** The DER SubjectPublicKeyInfo inside a DER X.509 certificate. */
export function spkiFromCertificateDer(der: Uint8Array): Uint8Array {
  const certificate = readTlv(der, 0);
  const tbs = readTlv(der, certificate.contentStart);
  let field = readTlv(der, tbs.contentStart);
  if (field.tag === 0xa0) field = readTlv(der, field.end); // explicit version
  // serialNumber, signature, issuer, validity, subject, then subjectPublicKeyInfo
  for (let i = 0; i < 5; i++) field = readTlv(der, field.end);
  if (field.tag !== 0x30) throw new Error("no SubjectPublicKeyInfo where expected");
  return der.subarray(field.start, field.end);
}

/** Decodes the first PEM block with the given label, or undefined. */
export function pemBlock(text: string, label: string): Buffer | undefined {
  const match = text.match(new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`));
  return match ? Buffer.from(match[1]!.replace(/\s+/g, ""), "base64") : undefined;
}

/** Decodes every PEM block with the given label, in order (a certificate bundle). */
export function pemBlocks(text: string, label: string): Buffer[] {
  return [...text.matchAll(new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`, "g"))].map((match) => Buffer.from(match[1]!.replace(/\s+/g, ""), "base64"));
}

export function toPem(der: Uint8Array, label: string): string {
  const base64 = Buffer.from(der).toString("base64");
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/**
 * What a file holds, in words, from its PEM labels: "a private key, a
 * certificate". Error messages use this rather than the raw labels, so no
 * message ever carries "PRIVATE KEY" text.
 */
export function describePemLabels(labels: readonly string[]): string {
  const named = labels.map((label) =>
    /PRIVATE KEY$/.test(label)
      ? "a private key"
      : label === "CERTIFICATE"
        ? "a certificate"
        : /CERTIFICATE REQUEST$/.test(label)
          ? "a certificate request"
          : label === "PUBLIC KEY"
            ? "a public key"
            : `a ${label} block`,
  );
  return [...new Set(named)].join(", ");
}

/** The labels of every PEM block in a text, in order. */
export function pemLabels(text: string): string[] {
  return [...text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----/g)].map((match) => match[1]!);
}
