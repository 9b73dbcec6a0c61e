import { inputError } from "../errors.js";
import { buildCsr } from "./csr.js";
import { generateKeyPair, type Keygen } from "./keygen.js";
import { encodePrivateKeyPem, type KeyType } from "./keys.js";
import { renderKubeconfig } from "./kubeconfig.js";
import { PROFILES } from "./profiles.js";
import { signCsr } from "./sign.js";
import type { Signer } from "./signer.js";
import { checkSubjectText } from "./subject.js";
import { parseEndpoint } from "./spec.js";

export interface UserKubeconfigOptions {
  signer: Signer;
  user: string;
  groups: readonly string[];
  server: string;
  clusterName: string;
  days: number;
  keyType: KeyType;
  /** How an RSA key is made (default: from primes). */
  keygen?: Keygen;
}

/** Checks an API server URL: https, a valid host, a port in range. */
export function checkServerUrl(text: string, flag = "--server"): string {
  const match = text.trim().match(/^https:\/\/([^/?#]+)\/?$/);
  if (!match) throw inputError(`${flag} "${text}" must be an https URL of the API server, e.g. https://192.0.2.10:6443`);
  parseEndpoint(match[1]!, 443, flag);
  return text.trim().replace(/\/$/, "");
}

/**
 * A kubeconfig for any user (an operator's own, a CI robot's): a new key,
 * a client certificate with CN = user and O = groups signed by the cluster
 * CA, embedded like kubeadm's admin.conf.
 */
export async function createUserKubeconfig(options: UserKubeconfigOptions) {
  checkSubjectText(options.user, "--user");
  options.groups.forEach((group) => checkSubjectText(group, "--group"));
  const server = checkServerUrl(options.server);
  const key = await generateKeyPair(options.keyType, options.keygen);
  const csr = await buildCsr(key, { commonName: options.user, organizations: options.groups }, { dns: [], ips: [] });
  const { cert } = await signCsr(csr, options.signer, PROFILES.client, { days: options.days });
  const text = renderKubeconfig({
    cluster: options.clusterName,
    server,
    caPem: options.signer.cert.pem,
    user: options.user,
    clientCertPem: cert.pem,
    clientKeyPem: encodePrivateKeyPem(key),
  });
  return { text, cert };
}
