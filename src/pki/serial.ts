import { randomBytes } from "node:crypto";

/**
 * A random positive serial (126 random bits from the CSPRNG), as hex. The first
 * byte is odd and below 0x80 so the DER INTEGER is exactly 16 bytes: positive,
 * no leading zero, well under RFC 5280's 20-octet limit.
 */
export function randomSerialHex(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return bytes.toString("hex");
}
