import { X509Certificate } from "node:crypto";
import type { CertInfo } from "./certinfo.js";

/** Whether `cert` was issued by `ca` and its signature verifies with the CA's key. */
export function issuedBy(cert: CertInfo, ca: CertInfo): boolean {
  const leaf = new X509Certificate(cert.der);
  const issuer = new X509Certificate(ca.der);
  return leaf.checkIssued(issuer) && leaf.verify(issuer.publicKey);
}

/**
 * The one message for a file signed by another CA than this cluster's. It
 * names the file as another cluster's and never suggests --force: following
 * such advice would overwrite that cluster's files.
 */
export function anotherClusterMessage(file: string, cert: CertInfo, caFile: string | undefined): string {
  const ours = caFile ? `this cluster's CA ${caFile}` : "this cluster's CA (the folder has no CA yet)";
  return (
    `${file} belongs to another cluster: it is signed by "${cert.issuer}", not by ${ours}; ` +
    "kpki never replaces another cluster's files: move it out of this cluster's folder, or give each cluster its own --dir"
  );
}
