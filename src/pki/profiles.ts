import type { KeyType } from "./keys.js";

/** Extended key usages kpki grants, by their common names. */
export const EXTENDED_KEY_USAGES = {
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
} as const;
export type ExtendedKeyUsageName = keyof typeof EXTENDED_KEY_USAGES;

export type KeyUsageName = "digitalSignature" | "keyEncipherment" | "keyCertSign" | "cRLSign";

/**
 * A signing profile: what a certificate may do. This is the whole signing
 * policy: a CSR chooses its subject and SANs, the profile chooses everything
 * else, whatever the CSR asks for.
 */
export interface Profile {
  name: string;
  isCA: boolean;
  extendedKeyUsages: readonly ExtendedKeyUsageName[];
  description: string;
}

export const PROFILES = {
  ca: { name: "ca", isCA: true, extendedKeyUsages: [], description: "certificate authority" },
  server: { name: "server", isCA: false, extendedKeyUsages: ["serverAuth"], description: "TLS server" },
  client: { name: "client", isCA: false, extendedKeyUsages: ["clientAuth"], description: "TLS client" },
  peer: { name: "peer", isCA: false, extendedKeyUsages: ["serverAuth", "clientAuth"], description: "TLS server and client" },
} as const satisfies Record<string, Profile>;

export type ProfileName = keyof typeof PROFILES;
export const SIGNING_PROFILES = ["server", "client", "peer"] as const satisfies readonly ProfileName[];

/**
 * Key usages for a certificate. keyEncipherment only means something for RSA
 * key transport, so EC leaf certs get digitalSignature alone (unlike kubeadm,
 * which sets both whatever the key).
 */
export function keyUsagesFor(profile: Profile, keyType: KeyType): KeyUsageName[] {
  if (profile.isCA) return ["digitalSignature", "keyCertSign", "cRLSign"];
  return keyType.startsWith("rsa") ? ["digitalSignature", "keyEncipherment"] : ["digitalSignature"];
}
