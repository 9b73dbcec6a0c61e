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

/** Malformed DER; callers turn it into the input error that names the file. */
export class DerError extends Error {}

function readTlv(der: Uint8Array, offset: number): Tlv {
  const tag = der[offset];
  let length = der[offset + 1];
  if (tag === undefined || length === undefined) throw new DerError("truncated DER");
  let contentStart = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4) throw new DerError("unsupported DER length");
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (der[contentStart + i] ?? 0);
    contentStart += count;
  }
  const end = contentStart + length;
  if (end > der.length) throw new DerError("truncated DER");
  return { tag, start: offset, contentStart, end };
}

/** The elements directly inside a DER SEQUENCE (such as GeneralNames): each one's tag and content bytes. */
export function derSequenceItems(der: Uint8Array): { tag: number; content: Uint8Array }[] {
  const sequence = readTlv(der, 0);
  if (sequence.tag !== 0x30) throw new DerError("not a SEQUENCE");
  const items: { tag: number; content: Uint8Array }[] = [];
  for (let offset = sequence.contentStart; offset < sequence.end; ) {
    const item = readTlv(der, offset);
    if (item.end > sequence.end) throw new DerError("truncated DER");
    items.push({ tag: item.tag, content: der.subarray(item.contentStart, item.end) });
    offset = item.end;
  }
  return items;
}

/** The TBSCertificate field at `index` (0 serialNumber … 4 subject, 5 subjectPublicKeyInfo) of a DER X.509 certificate, as DER. */
function tbsField(der: Uint8Array, index: number): Uint8Array {
  const certificate = readTlv(der, 0);
  const tbs = readTlv(der, certificate.contentStart);
  let field = readTlv(der, tbs.contentStart);
  if (field.tag === 0xa0) field = readTlv(der, field.end); // explicit version
  for (let i = 0; i < index; i++) field = readTlv(der, field.end);
  if (field.tag !== 0x30) throw new DerError("no SEQUENCE where the certificate's field should be");
  return der.subarray(field.start, field.end);
}

/** The DER SubjectPublicKeyInfo inside a DER X.509 certificate. */
export const spkiFromCertificateDer = (der: Uint8Array): Uint8Array => tbsField(der, 5);

/** The DER subject Name inside a DER X.509 certificate. */
export const subjectFromCertificateDer = (der: Uint8Array): Uint8Array => tbsField(der, 4);

/** One PEM block: its label, its decoded body and its whole text (headers included). */
export interface PemBlock {
  label: string;
  der: Buffer;
  text: string;
}

const BEGIN = "-----BEGIN ";

/**
 * Every PEM block of a text, in order, in one pass: a BEGIN line without its
 * END, or with another BEGIN before its END, is skipped. A regular expression
 * with a lazy body and a back-reference is quadratic in repeated BEGIN lines
 * (a 1 MB file took 21 s); this looks each END up once per label and keeps it.
 */
export function pemBlocks(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  const nextEnd = new Map<string, number>(); // label -> index of its next END line (-1: none left)
  for (let start = text.indexOf(BEGIN); start >= 0; ) {
    const labelStart = start + BEGIN.length;
    const labelEnd = text.slice(labelStart, labelStart + 80).indexOf("-----");
    const label = labelEnd < 0 ? "" : text.slice(labelStart, labelStart + labelEnd);
    const bodyStart = labelStart + labelEnd + 5;
    const next = text.indexOf(BEGIN, labelStart);
    if (!/^[A-Z0-9 ]{1,64}$/.test(label)) {
      start = next;
      continue;
    }
    const marker = `-----END ${label}-----`;
    let end = nextEnd.get(label);
    if (end === undefined || (end >= 0 && end < bodyStart)) {
      end = text.indexOf(marker, bodyStart);
      nextEnd.set(label, end);
    }
    if (end < 0) {
      start = next;
      continue;
    }
    if (next >= 0 && next < end) {
      start = next; // another block starts inside this one: this BEGIN has no END of its own
      continue;
    }
    const body = text.slice(bodyStart, end);
    // Headers (Proc-Type, DEK-Info) end at a blank line; the base64 follows.
    const base64 = (body.includes(":") ? body.slice(body.search(/\r?\n\r?\n|$/)) : body).replace(/\s+/g, "");
    blocks.push({ label, der: Buffer.from(base64, "base64"), text: text.slice(start, end + marker.length) });
    start = text.indexOf(BEGIN, end + marker.length);
  }
  return blocks;
}

/** Decodes the first PEM block with the given label, or undefined. */
export function pemBlock(text: string, label: string): Buffer | undefined {
  return pemBlocks(text).find((block) => block.label === label)?.der;
}

/** Decodes every PEM block with the given label, in order (a certificate bundle). */
export function pemBlocksLabelled(text: string, label: string): Buffer[] {
  return pemBlocks(text).filter((block) => block.label === label).map((block) => block.der);
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
  return pemBlocks(text).map((block) => block.label);
}
