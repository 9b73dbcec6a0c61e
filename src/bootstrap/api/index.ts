/** The API side: bootstrap tokens, token and discovery checks, service accounts, over Node's own https. */
export { apiRequest, checkApiServerUrl, spkiPin, ConnectionError, type ApiTarget, type ApiResponse, type ConnectionFailure } from "./apiclient.js";
export { targetFromKubeconfig } from "./cluster.js";
export {
  parseToken,
  generateToken,
  parseTtl,
  tokenText,
  tokenSecretData,
  tokenFromSecret,
  TOKEN_PATTERN,
  TOKEN_USAGES,
  DEFAULT_GROUPS,
  type BootstrapToken,
  type TokenSpec,
  type TokenInfo,
  type TokenUsage,
} from "./token.js";
export { createTokenSecret, listTokens, getTokenSecret, deleteToken } from "./tokens.js";
export { verifyToken, OUTCOME_EXIT_CODES, type Outcome, type TokenCheck, type Transport } from "./tokenverify.js";
export { verifyDiscovery, type DiscoveryResult, type DiscoveryStep } from "./discovery.js";
export { detachedJws, detachedJwsValid } from "./jws.js";
export { checkPin, caOf } from "./trust.js";
export { tokenSecretManifest, serviceAccountManifest, opaqueSecretManifest, type ServiceAccountSpec } from "./manifests.js";
export { createServiceAccount, requestServiceAccountToken } from "./serviceaccounts.js";
export { randomString, CHARSETS, type CharsetName } from "./random.js";
export { remoteCurlTransport } from "./remotecurl.js";
