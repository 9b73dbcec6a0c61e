/**
 * A faithful stand-in for kube-apiserver, for tests on machines without one
 * (issue 5). It follows /work/shared/reference/kubeadm-facts.md §2–§4 and the
 * kube-apiserver code cited in each module under ./apiserver/:
 *
 * - HTTPS with the given serving certificate (kpki's apiserver.crt); client
 *   certificates requested, verified against ca.crt (chain, dates,
 *   clientAuth), CN → user, O → groups (authn.ts);
 * - bearer tokens: bootstrap tokens exactly per §3.2 (bootstrap.ts, when
 *   bootstrapTokenAuth, default true) and RS256 service-account JWTs signed
 *   with sa.key (serviceaccounts.ts); a presented token nobody accepts → 401
 *   with the exact Status body of §3.2; no credentials → system:anonymous;
 * - RBAC with kubeadm's default bindings (§2, §3.3) plus whatever bindings
 *   are created through the API; 403 Status bodies (rbac.ts);
 * - Secrets, ConfigMaps, Namespaces, ServiceAccounts (+ TokenRequest),
 *   RBAC bindings, CSRs, SelfSubjectReview (v1, v1beta1),
 *   SelfSubjectAccessReview; legacy discovery and server-side tables for
 *   kubectl (server.ts, resources.ts, discovery.ts);
 * - kube-public/cluster-info with the BootstrapSigner's jws-kubeconfig-<id>
 *   detached JWS per §4, computed on every read (bootstrap.ts).
 *
 * Typical use:
 *   const api = await startApiServer();                   // listening on a free port
 *   await runCli(["init", "--master-ip", "127.0.0.1", "--apiserver-port", String(api.port), "--dir", `${d}/pki`, "--node-name", "n1"]);
 *   api.usePki(`${d}/pki`);                               // apiserver.crt/.key, ca.crt, sa.pub/.key
 *   const { token } = api.createBootstrapTokenSecret({ id: "abcdef", secret: "0123456789abcdef", usages: ["signing", "authentication"], groups: ["system:bootstrappers:kubeadm:default-node-token"] });
 *   …; api.seen.at(-1) // { method, path, user, groups, status, authenticationError, … }
 *   await api.stop();
 */
export { startApiServer, VERSION_INFO } from "./apiserver/server.js";
export type { ApiServerOptions, Credentials, RejectedHandshake, SeenRequest, TestApiServer } from "./apiserver/server.js";
export { UNAUTHORIZED_BODY } from "./apiserver/status.js";
export type { Status } from "./apiserver/status.js";
export { bootstrapTokenSecret, clusterInfoKubeconfig, detachedJws, TOKEN_RE, EXTRA_GROUP_RE, parseGoRfc3339 } from "./apiserver/bootstrap.js";
export type { BootstrapTokenSpec } from "./apiserver/bootstrap.js";
export { SA_ISSUER } from "./apiserver/serviceaccounts.js";
export type { IssuedToken } from "./apiserver/serviceaccounts.js";
export type { KubeObject } from "./apiserver/resources.js";
export type { ObjectStore } from "./apiserver/store.js";
export type { AuthMethod, UserInfo } from "./apiserver/authn.js";
