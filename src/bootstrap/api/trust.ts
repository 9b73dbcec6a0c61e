import { X509Certificate } from "node:crypto";
import { KpkiError } from "../../errors.js";
import { pemBlock, spkiFromCertificateDer } from "../../pki/der.js";
import { checkPublicKeyShape } from "../../pki/keyshape.js";
import { apiRequest, spkiPin, type ApiTarget } from "./apiclient.js";
import { CLUSTER_INFO_PATH, clusterInfoFromConfigMap, clusterOfClusterInfo } from "./clusterinfo.js";

/** Checks `sha256:<64 hex>` pins, as kubeadm's --discovery-token-ca-cert-hash takes them. */
export function checkPin(text: string, flag = "--ca-hash"): string {
  const value = text.trim().toLowerCase();
  if (!value.startsWith("sha256:")) throw new KpkiError("usage", `${flag} "${text}" must start with "sha256:" (kpki ca hash prints it)`);
  if (!/^sha256:[0-9a-f]{64}$/.test(value)) {
    throw new KpkiError("usage", `${flag} must be sha256: and 64 hex digits (a SHA-256 of the CA's public key); this has ${value.length - 7} characters after it`);
  }
  return value;
}

/** The first certificate of a PEM text, its public key's structure checked before OpenSSL reads it; errors name `label`. */
export function readCertificatePem(pem: string, label: string): X509Certificate {
  const der = pemBlock(pem, "CERTIFICATE");
  if (!der) throw new KpkiError("input", `${label} holds no PEM certificate: give the CA certificate (PEM "CERTIFICATE")`);
  let certificate: X509Certificate;
  try {
    // The structure first: a hostile public key can abort Node inside OpenSSL (see keyshape.ts).
    checkPublicKeyShape(spkiFromCertificateDer(der), label);
    certificate = new X509Certificate(der);
  } catch (error) {
    if (error instanceof KpkiError) throw error;
    throw new KpkiError("input", `${label} is not a readable X.509 certificate: its DER structure is damaged`);
  }
  return certificate;
}

/** The CA certificate (first in the PEM) and its pin; `label` names where it came from in errors. */
export function caOf(pem: string, label = "the CA certificate"): { pem: string; pin: string; subject: string } {
  const certificate = readCertificatePem(pem, label);
  return { pem: certificate.toString(), pin: spkiPin(certificate), subject: certificate.subject.replace(/\n/g, ", ") };
}

/**
 * Trust from a pin, as kubeadm join does: read cluster-info anonymously
 * without verifying (all a pin can start from), take its CA, and accept it
 * only if its public key matches a pin. The caller then talks to the server
 * verified against that CA.
 */
export async function caFromPins(
  server: string,
  pins: readonly string[],
  timeoutMs?: number,
  send: (target: ApiTarget, method: string, path: string) => Promise<{ status: number; body: unknown }> = apiRequest,
): Promise<{ pem: string; pin: string; subject: string }> {
  const response = await send({ server, insecure: true, timeoutMs }, "GET", CLUSTER_INFO_PATH);
  if (response.status === 200) {
    const ca = caOf(clusterOfClusterInfo(clusterInfoFromConfigMap(response.body).kubeconfig).caPem, "cluster-info's CA");
    if (pins.includes(ca.pin)) return ca;
    throw new KpkiError("verify", `the server's CA (cluster-info) has pin ${ca.pin}, not ${pins.join(" or ")}: this is not the cluster you pinned, or the pin is wrong (kpki ca hash on the CA)`);
  }
  throw new KpkiError(
    "verify",
    `cannot pin the CA: kube-public/cluster-info is not readable anonymously here (HTTP ${response.status}); give the CA certificate with --ca instead`,
  );
}
