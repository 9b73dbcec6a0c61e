import { createPublicKey, KeyObject, webcrypto } from "node:crypto";
import { inputError } from "../errors.js";

/** The key algorithms kpki makes; kubeadm's `encryptionAlgorithm` values, lower-cased. */
export const KEY_TYPES = ["rsa-2048", "rsa-3072", "rsa-4096", "ecdsa-p256", "ecdsa-p384"] as const;
export type KeyType = (typeof KEY_TYPES)[number];
export const DEFAULT_KEY_TYPE: KeyType = "rsa-2048";

type SigningAlgorithm = RsaHashedKeyGenParams | EcKeyGenParams;
type ImportAlgorithm = RsaHashedImportParams | EcKeyImportParams;

interface KeySpec {
  generate: SigningAlgorithm;
  import: ImportAlgorithm;
  /** What @peculiar/x509 signs with: Go's defaults for the key (SHA-256, or SHA-384 on P-384). */
  sign: Algorithm & { hash?: string };
}

const rsa = (bits: number): KeySpec => ({
  generate: {
    name: "RSASSA-PKCS1-v1_5",
    modulusLength: bits,
    publicExponent: new Uint8Array([1, 0, 1]),
    hash: "SHA-256",
  },
  import: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
  sign: { name: "RSASSA-PKCS1-v1_5" },
});
const ec = (curve: "P-256" | "P-384", hash: string): KeySpec => ({
  generate: { name: "ECDSA", namedCurve: curve },
  import: { name: "ECDSA", namedCurve: curve },
  sign: { name: "ECDSA", hash },
});

const keySpecs: Record<KeyType, KeySpec> = {
  "rsa-2048": rsa(2048),
  "rsa-3072": rsa(3072),
  "rsa-4096": rsa(4096),
  "ecdsa-p256": ec("P-256", "SHA-256"),
  "ecdsa-p384": ec("P-384", "SHA-384"),
};

/** A private key in both forms: KeyObject for PEM and checks, CryptoKey pair for signing. */
export interface KeyPair {
  type: KeyType;
  privateKey: webcrypto.CryptoKey;
  publicKey: webcrypto.CryptoKey;
  privateKeyObject: KeyObject;
}

export function parseKeyType(value: string): KeyType {
  const normalized = value.trim().toLowerCase();
  if ((KEY_TYPES as readonly string[]).includes(normalized)) return normalized as KeyType;
  throw inputError(`unknown key type "${value}": use one of ${KEY_TYPES.join(", ")}`);
}

/** What WebCrypto's generateKey takes for this key type (OpenSSL's own generator). */
export function generationAlgorithm(type: KeyType): SigningAlgorithm {
  return keySpecs[type].generate;
}

/** What WebCrypto's importKey takes for this key type. */
export function importAlgorithm(type: KeyType): ImportAlgorithm {
  return keySpecs[type].import;
}

/** The signature algorithm for certificates and CSRs signed by this key. */
export function signingAlgorithm(type: KeyType): Algorithm {
  return keySpecs[type].sign;
}

/** PEM as kubeadm writes it: PKCS#1 `RSA PRIVATE KEY` or SEC1 `EC PRIVATE KEY`. */
export function encodePrivateKeyPem(key: KeyPair): string {
  const type = key.type.startsWith("rsa") ? "pkcs1" : "sec1";
  return key.privateKeyObject.export({ type, format: "pem" }) as string;
}

/** SubjectPublicKeyInfo as `PUBLIC KEY` PEM (what kubeadm writes to sa.pub). */
export function encodePublicKeyPem(key: KeyPair): string {
  return createPublicKey(key.privateKeyObject).export({ type: "spki", format: "pem" }) as string;
}

/** The kpki key type of an existing key, or undefined for a key kpki does not make. */
export function keyTypeOf(key: KeyObject): KeyType | undefined {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === "rsa" && details?.modulusLength) {
    const name = `rsa-${details.modulusLength}`;
    return (KEY_TYPES as readonly string[]).includes(name) ? (name as KeyType) : undefined;
  }
  if (key.asymmetricKeyType === "ec") {
    if (details?.namedCurve === "prime256v1") return "ecdsa-p256";
    if (details?.namedCurve === "secp384r1") return "ecdsa-p384";
  }
  return undefined;
}

/** A human description such as "RSA 2048" or "ECDSA P-256", for any key Node can read. */
export function describeKey(key: KeyObject): string {
  const details = key.asymmetricKeyDetails;
  switch (key.asymmetricKeyType) {
    case "rsa":
      return `RSA ${details?.modulusLength ?? "?"}`;
    case "ec": {
      const curves: Record<string, string> = { prime256v1: "P-256", secp384r1: "P-384", secp521r1: "P-521" };
      return `ECDSA ${curves[details?.namedCurve ?? ""] ?? details?.namedCurve ?? "?"}`;
    }
    default:
      return (key.asymmetricKeyType ?? "unknown").toUpperCase();
  }
}

/**
 * The private key of a PEM text as a KeyObject, after a structural check of
 * its ASN.1 (keyshape.ts, loaded only now: some malformed EC keys abort Node
 * outright). `label` names the file in errors.
 */
export async function readPrivateKeyObject(pem: string | Buffer, label: string): Promise<KeyObject> {
  return (await import("./keyshape.js")).readPrivateKeyPem(pem, label);
}

/**
 * Reads a private key in any PEM form kubeadm or openssl writes (PKCS#1,
 * SEC1, PKCS#8). `label` names the file in errors.
 */
export async function parsePrivateKeyPem(pem: string | Buffer, label: string): Promise<KeyPair> {
  const keyObject = await readPrivateKeyObject(pem, label);
  const type = keyTypeOf(keyObject);
  if (!type) {
    throw inputError(`${label} is a ${describeKey(keyObject)} key, which kpki does not sign with: use one of ${KEY_TYPES.join(", ")}`);
  }
  const spec = keySpecs[type];
  try {
    const pkcs8 = keyObject.export({ type: "pkcs8", format: "der" });
    const privateKey = await webcrypto.subtle.importKey("pkcs8", pkcs8, spec.import, true, ["sign"]);
    const spki = createPublicKey(keyObject).export({ type: "spki", format: "der" });
    const publicKey = await webcrypto.subtle.importKey("spki", spki, spec.import, true, ["verify"]);
    return { type, privateKey, publicKey, privateKeyObject: keyObject };
  } catch {
    // OpenSSL reads some keys WebCrypto refuses (a zero or out-of-range scalar).
    throw inputError(`${label}: the ${describeKey(keyObject)} private key in it is not a valid key (its numbers are out of range), so kpki cannot use it`);
  }
}

/** DER SubjectPublicKeyInfo of a key pair. */
export function publicKeyDer(key: KeyPair): Buffer {
  return createPublicKey(key.privateKeyObject).export({ type: "spki", format: "der" });
}
