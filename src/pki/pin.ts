import { createHash } from "node:crypto";
import { spkiFromCertificateDer } from "./der.js";

/**
 * kubeadm's CA pin (`--discovery-token-ca-cert-hash`): "sha256:" and the hex
 * SHA-256 of the certificate's DER SubjectPublicKeyInfo.
 */
export function caCertHash(certificateDer: Uint8Array): string {
  return `sha256:${createHash("sha256").update(spkiFromCertificateDer(certificateDer)).digest("hex")}`;
}
