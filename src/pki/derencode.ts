/**
 * DER (X.690 §10) for the handful of ASN.1 types kpki's certificates and
 * requests are made of, each element built from its content bytes. A
 * certificate is ~25 elements of fixed shape; a schema-driven library builds
 * an object graph for each and walks it to serialize, which cost init more
 * main-thread time than signing. Reading DER stays in der.ts.
 */

/** One element: tag, definite length (short form below 128), content (the parts concatenated). */
export function tlv(tag: number, ...parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  let length = 0;
  for (const part of parts) length += part.length;
  let lengthOctets = 0;
  if (length >= 0x80) for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) lengthOctets++;
  const header = 2 + lengthOctets;
  const out = new Uint8Array(header + length);
  out[0] = tag;
  if (lengthOctets === 0) out[1] = length;
  else {
    out[1] = 0x80 | lengthOctets;
    for (let i = lengthOctets, rest = length; i > 0; i--, rest = Math.floor(rest / 256)) out[1 + i] = rest % 256;
  }
  let offset = header;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export const sequence = (...items: readonly Uint8Array[]) => tlv(0x30, ...items);

/** SET OF, its elements in the order DER requires: by their encodings, shorter ones as if padded with zeros (X.690 §11.6). */
export const setOf = (...items: readonly Uint8Array[]) => tlv(0x31, ...[...items].sort(compareEncodings));

function compareEncodings(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const difference = (a[i] ?? 0) - (b[i] ?? 0);
    if (difference !== 0) return difference;
  }
  return 0;
}

/** [n] EXPLICIT (constructed, context-specific). */
export const explicit = (n: number, ...items: readonly Uint8Array[]) => tlv(0xa0 | n, ...items);

/** [n] IMPLICIT over a primitive type: the type's content bytes under the context tag. */
export const implicitPrimitive = (n: number, content: Uint8Array) => tlv(0x80 | n, content);

export const TRUE: Uint8Array = Uint8Array.of(0x01, 0x01, 0xff);
export const NULL: Uint8Array = Uint8Array.of(0x05, 0x00);

/** A non-negative INTEGER from its unsigned big-endian bytes: leading zeros dropped, one 0x00 kept where the top bit is set. */
export function unsignedInteger(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const value = bytes.subarray(start);
  return value.length > 0 && value[0]! >= 0x80 ? tlv(0x02, Uint8Array.of(0), value) : tlv(0x02, value.length > 0 ? value : Uint8Array.of(0));
}

/** A small non-negative INTEGER (a version number). */
export const smallInteger = (value: number) => unsignedInteger(Uint8Array.of(value));

export const octetString = (content: Uint8Array) => tlv(0x04, content);

/** A BIT STRING of whole octets (a key, a signature). */
export const bitString = (content: Uint8Array) => tlv(0x03, Uint8Array.of(0), content);

/**
 * A named-bit BIT STRING such as KeyUsage: bit i of `flags` is named bit i,
 * and DER drops the trailing zero bits (X.690 §11.2.2).
 */
export function namedBits(flags: number): Uint8Array<ArrayBuffer> {
  const length = flags === 0 ? 0 : 32 - Math.clz32(flags);
  const octets = new Uint8Array(1 + Math.ceil(length / 8));
  octets[0] = (octets.length - 1) * 8 - length;
  for (let bit = 0; bit < length; bit++) if (flags & (1 << bit)) octets[1 + (bit >> 3)]! |= 0x80 >> (bit & 7);
  return tlv(0x03, octets);
}

const oids = new Map<string, Uint8Array>();

/** An OBJECT IDENTIFIER from its dotted form (each one encoded once per process). */
export function oid(dotted: string): Uint8Array {
  let encoded = oids.get(dotted);
  if (encoded) return encoded;
  const arcs = dotted.split(".").map(Number);
  if (!/^\d+(\.\d+)+$/.test(dotted) || !arcs.every(Number.isSafeInteger)) throw new Error(`not an object identifier: ${dotted}`);
  const content: number[] = [];
  for (const arc of [arcs[0]! * 40 + arcs[1]!, ...arcs.slice(2)]) {
    const septets = [arc % 128];
    for (let rest = Math.floor(arc / 128); rest > 0; rest = Math.floor(rest / 128)) septets.unshift(0x80 | rest % 128);
    content.push(...septets);
  }
  encoded = tlv(0x06, Uint8Array.from(content));
  oids.set(dotted, encoded);
  return encoded;
}

/** ASCII text (IA5String content: a DNS name). */
export const ascii = (text: string) => new Uint8Array(Buffer.from(text, "latin1"));

const two = (n: number) => String(n).padStart(2, "0");

/**
 * RFC 5280's Time, in whole seconds: UTCTime (YYMMDDHHMMSSZ) through 2049,
 * GeneralizedTime (YYYYMMDDHHMMSSZ) from 2050 on.
 */
export function time(date: Date): Uint8Array<ArrayBuffer> {
  const year = date.getUTCFullYear();
  const rest = `${two(date.getUTCMonth() + 1)}${two(date.getUTCDate())}${two(date.getUTCHours())}${two(date.getUTCMinutes())}${two(date.getUTCSeconds())}Z`;
  return year > 2049 ? tlv(0x18, ascii(`${String(year).padStart(4, "0")}${rest}`)) : tlv(0x17, ascii(`${two(year % 100)}${rest}`));
}
