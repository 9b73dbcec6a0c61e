/**
 * A structural check of a key's ASN.1 before Node's crypto sees it. Node 20
 * aborts the whole process (SIGABRT, `Assertion failed: (ec) != nullptr`)
 * when asked for the details of an EC key OpenSSL decoded but cannot turn
 * into an EC_KEY: a SEC1 private key longer than its curve's order, or a
 * public point at infinity. No try/catch can stop an abort, so such keys must
 * never reach `createPrivateKey`/`createPublicKey`/WebCrypto. The rules follow
 * Go's crypto/x509 (what kubeadm reads with): named curves only, a private
 * scalar no longer than the curve's size, an uncompressed or compressed point
 * of the curve's size.
 */
import { AsnConvert } from "@peculiar/asn1-schema";
import { ECParameters, ECPrivateKey } from "@peculiar/asn1-ecc";
import { PrivateKeyInfo } from "@peculiar/asn1-pkcs8";
import { SubjectPublicKeyInfo } from "@peculiar/asn1-x509";
import { createPrivateKey, type KeyObject } from "node:crypto";
import { inputError } from "../errors.js";
import { pemBlocks } from "./der.js";

const ID_EC_PUBLIC_KEY = "1.2.840.10045.2.1";

/** The named curves kpki reads, with their field size in bytes (Go's set, plus secp256k1). */
const CURVE_BYTES: Record<string, { name: string; bytes: number }> = {
  "1.3.132.0.33": { name: "P-224", bytes: 28 },
  "1.2.840.10045.3.1.7": { name: "P-256", bytes: 32 },
  "1.3.132.0.34": { name: "P-384", bytes: 48 },
  "1.3.132.0.35": { name: "P-521", bytes: 66 },
  "1.3.132.0.10": { name: "secp256k1", bytes: 32 },
};

/** Key algorithms a PKCS#8 or SubjectPublicKeyInfo may name; anything else is refused before Node decodes it. */
const KNOWN_ALGORITHMS = new Set([
  "1.2.840.113549.1.1.1", // rsaEncryption
  "1.2.840.113549.1.1.10", // RSASSA-PSS
  ID_EC_PUBLIC_KEY,
  "1.3.101.110", // X25519
  "1.3.101.111", // X448
  "1.3.101.112", // Ed25519
  "1.3.101.113", // Ed448
  "1.2.840.10040.4.1", // DSA
]);

class ShapeError extends Error {}

function parse<T>(der: Uint8Array | ArrayBuffer, schema: new () => T, what: string): T {
  try {
    return AsnConvert.parse(der instanceof ArrayBuffer ? der : new Uint8Array(der), schema);
  } catch {
    throw new ShapeError(`${what} is not valid DER`);
  }
}

function curveOf(parameters: ECParameters | undefined): { name: string; bytes: number } {
  if (!parameters) throw new ShapeError("it names no curve");
  if (!parameters.namedCurve) throw new ShapeError("it carries explicit curve parameters instead of a named curve");
  const curve = CURVE_BYTES[parameters.namedCurve];
  if (!curve) throw new ShapeError(`its curve ${parameters.namedCurve} is not one kpki reads (P-256, P-384, P-521)`);
  return curve;
}

function checkPoint(point: ArrayBuffer, curve: { name: string; bytes: number }): void {
  const bytes = new Uint8Array(point);
  const form = bytes[0];
  const expected = form === 0x04 ? 1 + 2 * curve.bytes : form === 0x02 || form === 0x03 ? 1 + curve.bytes : undefined;
  if (expected === undefined || bytes.length !== expected) {
    throw new ShapeError(`its public point is not a ${curve.name} point (${bytes.length} bytes${form === 0 ? ", the point at infinity" : ""})`);
  }
}

function checkEcPrivateKey(der: Uint8Array | ArrayBuffer, outer?: ECParameters): void {
  const key = parse(der, ECPrivateKey, "EC private key");
  if (key.version !== 1) throw new ShapeError(`its version is ${key.version}, not 1`);
  if (outer && key.parameters && key.parameters.namedCurve !== outer.namedCurve) {
    throw new ShapeError("its inner and outer curves differ");
  }
  const curve = curveOf(outer ?? key.parameters);
  const scalar = new Uint8Array(key.privateKey.buffer);
  if (scalar.length === 0 || scalar.length > curve.bytes) {
    throw new ShapeError(`its private scalar is ${scalar.length} bytes, not up to ${curve.bytes} as ${curve.name} needs`);
  }
  if (scalar.every((byte) => byte === 0)) throw new ShapeError("its private scalar is zero");
  if (key.publicKey) checkPoint(key.publicKey, curve);
}

function ecParametersOf(raw: ArrayBuffer | null | undefined): ECParameters | undefined {
  return raw ? parse(raw, ECParameters, "curve parameters") : undefined;
}

function checkAlgorithm(oid: string): void {
  if (!KNOWN_ALGORITHMS.has(oid)) throw new ShapeError(`its key algorithm ${oid} is not one kpki reads`);
}

function guarded(label: string, what: string, check: () => void): void {
  try {
    check();
  } catch (error) {
    const detail = error instanceof ShapeError ? error.message : "it is not valid DER";
    throw inputError(`${label}: the ${what} in it is damaged and cannot be read (${detail})`);
  }
}

/**
 * Checks a private key's DER by its PEM label ("EC PRIVATE KEY", "PRIVATE
 * KEY", "RSA PRIVATE KEY"); throws the input error that names `label`.
 */
export function checkPrivateKeyShape(der: Uint8Array, pemLabel: string, label: string): void {
  const format = PRIVATE_KEY_FORMATS[pemLabel] ?? pemLabel;
  guarded(label, `${format} private key`, () => {
    if (pemLabel === "EC PRIVATE KEY") return checkEcPrivateKey(der);
    if (pemLabel !== "PRIVATE KEY") return; // PKCS#1 RSA: Node refuses a bad one with an error
    const info = parse(der, PrivateKeyInfo, "PKCS#8 structure");
    const algorithm = info.privateKeyAlgorithm.algorithm;
    checkAlgorithm(algorithm);
    if (algorithm !== ID_EC_PUBLIC_KEY) return;
    checkEcPrivateKey(info.privateKey.buffer, ecParametersOf(info.privateKeyAlgorithm.parameters));
  });
}

/** The PEM labels of unencrypted private keys, and the format each names. */
export const PRIVATE_KEY_FORMATS: Record<string, string> = { "RSA PRIVATE KEY": "PKCS#1", "EC PRIVATE KEY": "SEC1", "PRIVATE KEY": "PKCS#8" };

/** The private key of a PEM text as a KeyObject, its structure checked first; errors name `label`. */
export function readPrivateKeyPem(pem: string | Buffer, label: string): KeyObject {
  const blocks = pemBlocks(pem.toString("latin1"));
  const block = blocks.find((candidate) => candidate.label in PRIVATE_KEY_FORMATS);
  if (blocks.some((candidate) => candidate.label === "ENCRYPTED PRIVATE KEY") || block?.text.includes("ENCRYPTED")) {
    throw inputError(`${label} is an encrypted private key: decrypt it first (openssl pkey -in ${label} -out plain.key)`);
  }
  const unreadable = () =>
    inputError(`${label} is not a readable private key: give an unencrypted PEM key (PKCS#1, SEC1 or PKCS#8, as kubeadm and openssl write)`);
  if (!block) throw unreadable();
  checkPrivateKeyShape(block.der, block.label, label);
  try {
    return createPrivateKey({ key: block.text, format: "pem" });
  } catch {
    throw unreadable();
  }
}

/** Checks a DER SubjectPublicKeyInfo (of a certificate, a CSR or a `PUBLIC KEY` file). */
export function checkPublicKeyShape(spki: Uint8Array, label: string): void {
  guarded(label, "public key", () => {
    const info = parse(spki, SubjectPublicKeyInfo, "SubjectPublicKeyInfo");
    checkAlgorithm(info.algorithm.algorithm);
    if (info.algorithm.algorithm !== ID_EC_PUBLIC_KEY) return;
    checkPoint(info.subjectPublicKey, curveOf(ecParametersOf(info.algorithm.parameters)));
  });
}
