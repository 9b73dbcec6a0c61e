import { inputError } from "../errors.js";
import { parseCertificate, type CertInfo } from "./certinfo.js";
import { parsePrivateKeyPem, type KeyPair } from "./keys.js";
import { keyMatchesCert } from "./verify.js";

export interface Signer {
  cert: CertInfo;
  key: KeyPair;
}

/**
 * A CA ready to sign: its certificate is a CA, its key belongs to it and it
 * has not expired. A missing key means an externally managed CA, which kpki
 * never signs with.
 */
export async function loadSigner(
  files: { cert: Buffer | undefined; key: Buffer | undefined },
  paths: { cert: string; key: string },
  now = new Date(),
): Promise<Signer> {
  if (!files.cert) throw inputError(`${paths.cert} is missing: give the CA certificate (or run kpki init)`);
  const cert = parseCertificate(files.cert, paths.cert);
  if (!cert.isCA) throw inputError(`${paths.cert} is not a CA certificate (no CA:TRUE)`);
  if (!files.key) {
    throw inputError(`${paths.key} is missing: ${paths.cert} is an externally managed CA, which kpki does not sign with; sign at that CA (kpki cert csr makes the request)`);
  }
  const key = await parsePrivateKeyPem(files.key, paths.key);
  if (!keyMatchesCert(key.privateKeyObject, cert)) throw inputError(`${paths.key} does not belong to ${paths.cert}: give the matching CA key`);
  if (now > cert.notAfter) throw inputError(`${paths.cert} expired on ${cert.notAfter.toISOString()}: it can no longer sign`);
  return { cert, key };
}
