/**
 * kpki as a library: the PKI functions, the node side (SSH fleet runner,
 * inventories, steps, push-pki) and the API side (tokens, token and
 * discovery checks) the CLI is built on. Nothing here prints or reads argv.
 */
export { KpkiError, type ErrorKind } from "./errors.js";
export {
  KEY_TYPES,
  DEFAULT_KEY_TYPE,
  parsePrivateKeyPem,
  parseKeyType,
  encodePrivateKeyPem,
  encodePublicKeyPem,
  describeKey,
  type KeyType,
  type KeyPair,
} from "./pki/keys.js";
export { generateKeyPair, parseKeygen, KEYGENS, DEFAULT_KEYGEN, type Keygen } from "./pki/keygen.js";
export { rsaKeyFromPrimes, rsaPairProblems, RSA_RULES, RsaRuleError, type RsaKeyValues, type RsaRuleName } from "./pki/rsaprimes.js";
export {
  parseAltName,
  parseIp,
  firstIpOfCidr,
  dnsNameProblem,
  missingAltNames,
  type AltName,
  type AltNames,
} from "./pki/names.js";
export { formatSubject, type Subject } from "./pki/subject.js";
export { PROFILES, SIGNING_PROFILES, keyUsagesFor, type Profile, type ProfileName } from "./pki/profiles.js";
export { buildCsr, parseCsr, type ParsedCsr } from "./pki/csr.js";
export { createSelfSignedCa, signCsr, BACKDATE_MS, type Issuer, type Validity, type SignedCert } from "./pki/sign.js";
export { parseCertificate, parseCertificateDer, type CertInfo } from "./pki/certinfo.js";
export { verifyCertificate, keyMatchesCert, type VerifyProblem, type VerifyRequest } from "./pki/verify.js";
export { caCertHash } from "./pki/pin.js";
export { inspect, certificateView, type Inspection, type CertificateView } from "./pki/inspect.js";
export { renderOpensslConf } from "./pki/opensslconf.js";
export {
  CATALOG,
  CERTS,
  KEY_PAIRS,
  KUBECONFIGS,
  catalogEntry,
  selectEntries,
  type CatalogEntry,
  type CertEntry,
  type KeyPairEntry,
  type KubeconfigEntry,
} from "./pki/catalog.js";
export {
  resolveClusterSpec,
  apiServerAltNames,
  etcdAltNames,
  clusterServerUrl,
  localServerUrl,
  DEFAULTS,
  type ClusterSpec,
  type ClusterSpecInput,
} from "./pki/spec.js";
export { parseInitConfig, type InitConfig } from "./pki/config.js";
export { renderKubeconfig, parseKubeconfig, type KubeconfigContent, type LoadedKubeconfig } from "./pki/kubeconfig.js";
export { readInventory, type InventoryItem } from "./pki/inventory.js";
export { expiryReport, shortHumanDuration, parseDuration, formatExpiry, type ExpiryReport, type ExpiryRow } from "./pki/expiry.js";
export { renewCerts, RENEWABLE, type RenewOptions, type RenewReport } from "./pki/renew.js";
export { loadSigner, type Signer } from "./pki/signer.js";
export { createUserKubeconfig, checkServerUrl, type UserKubeconfigOptions } from "./pki/userkubeconfig.js";
export { buildP12, type P12Options } from "./pki/p12.js";
export { initPki, type InitOptions, type InitReport, type EntryReport } from "./pki/init.js";
export { createCsrFiles, type CsrFilesOptions } from "./pki/csrfiles.js";
export { PkiStore, MODES } from "./pki/store.js";
export * from "./bootstrap/node/index.js";
export * from "./bootstrap/api/index.js";
