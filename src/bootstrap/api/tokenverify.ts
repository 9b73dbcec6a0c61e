import { timingSafeEqual } from "node:crypto";
import { KpkiError } from "../../errors.js";
import { apiRequest, ConnectionError, type ApiResponse, type ApiTarget, type ConnectionFailure } from "./apiclient.js";
import { getTokenSecret } from "./tokens.js";
import { tokenText, type BootstrapToken } from "./token.js";

export type Outcome = "authenticated" | "unauthorized" | "forbidden" | "unexpected" | ConnectionFailure;

/** Exit codes of `token verify`, one per outcome, for scripts. */
export const OUTCOME_EXIT_CODES: Record<Outcome, number> = {
  authenticated: 0,
  unauthorized: 20,
  forbidden: 21,
  unexpected: 22,
  "tls-unknown-ca": 23,
  "tls-name-mismatch": 23,
  "tls-expired": 23,
  "tls-not-yet-valid": 23,
  "tls-other": 23,
  refused: 24,
  timeout: 24,
  unresolved: 24,
  unreachable: 24,
};

export interface TokenCheck {
  server: string;
  path: string;
  /** How the server was trusted. */
  trust: "ca" | "pin" | "insecure";
  outcome: Outcome;
  status?: number;
  user?: string;
  groups?: string[];
  /** One sentence: what happened. */
  diagnosis: string;
  /** What may have caused a refusal, most likely first. */
  causes: string[];
}

const causesOf401 = (id: string) => [
  `no Secret kube-system/bootstrap-token-${id}: the token id is unknown (never created, deleted, or cleaned up after it expired)`,
  "the token's secret half is wrong",
  "the token expired (kubeadm's default TTL is 24h)",
  "the token is not for authentication (usage-bootstrap-authentication is not \"true\")",
  "bootstrap-token authentication is off on the API server (it needs --enable-bootstrap-token-auth=true)",
];

/**
 * What `curl -k -H "Authorization: Bearer <token>" https://server/api` does,
 * done carefully: TLS verified (against a CA or a pin) unless the user asked
 * for --insecure, the identity read back through SelfSubjectReview, and a
 * refusal explained. With an admin target the token's Secret is read to say
 * which cause it is.
 */
/** Sends one request; local HTTPS by default, or curl on a node over SSH (`token verify --from`). */
export type Transport = (target: ApiTarget, method: string, path: string, body?: unknown) => Promise<Pick<ApiResponse, "status" | "body" | "text">>;

export async function verifyToken(options: {
  target: ApiTarget;
  trust: TokenCheck["trust"];
  /** A bootstrap token, or any other bearer token (a ServiceAccount's). */
  token: BootstrapToken | { bearer: string; expectedUser: string };
  path: string;
  admin?: ApiTarget;
  transport?: Transport;
}): Promise<TokenCheck> {
  const send = options.transport ?? apiRequest;
  const { token, path } = options;
  const bootstrap = "id" in token ? token : undefined;
  const bearer = bootstrap ? tokenText(bootstrap) : (token as { bearer: string }).bearer;
  const target: ApiTarget = { ...options.target, bearerToken: bearer, clientCertPem: undefined, clientKeyPem: undefined };
  const check: TokenCheck = { server: target.server, path, trust: options.trust, outcome: "unexpected", diagnosis: "", causes: [] };
  let response;
  try {
    response = await send(target, "GET", path);
  } catch (error) {
    if (!(error instanceof ConnectionError)) throw error;
    check.outcome = error.failure;
    check.diagnosis = error.message;
    return check;
  }
  check.status = response.status;
  if (response.status === 200 || response.status === 403) {
    const identity = await whoAmI(target, send);
    check.user = identity?.username;
    check.groups = identity?.groups;
  }
  const expectedUser = bootstrap ? `system:bootstrap:${bootstrap.id}` : (token as { expectedUser: string }).expectedUser;
  const who = check.user ? `${check.user}${check.groups?.length ? ` in groups ${check.groups.join(", ")}` : ""}` : expectedUser;
  if (response.status === 200) {
    check.outcome = "authenticated";
    check.diagnosis = `authenticated as ${who}; GET ${path} allowed`;
  } else if (response.status === 403) {
    check.outcome = "forbidden";
    const message = (response.body as { message?: string } | undefined)?.message;
    check.diagnosis = `authenticated as ${who}, but not allowed to GET ${path}${message ? ` (${message})` : ""}`;
    check.causes = [
      bootstrap
        ? "RBAC: the token's groups are not bound to a role that allows this; a kubeadm node token may read only what joining needs"
        : `RBAC: ${expectedUser} is bound to no role that allows this (kpki sa create NAME --clusterrole view binds one)`,
    ];
  } else if (response.status === 401) {
    check.outcome = "unauthorized";
    check.diagnosis = `the API server refused the token (401 Unauthorized)`;
    if (bootstrap) check.causes = options.admin ? await narrowCauses(options.admin, bootstrap) : causesOf401(bootstrap.id);
    else check.causes = ["the token expired, or was made for another audience, or its ServiceAccount was deleted"];
  } else {
    check.diagnosis = `unexpected answer: HTTP ${response.status} ${response.text.slice(0, 120)}`;
  }
  return check;
}

async function whoAmI(target: ApiTarget, send: Transport): Promise<{ username?: string; groups?: string[] } | undefined> {
  for (const version of ["v1", "v1beta1"]) {
    const response = await send(target, "POST", `/apis/authentication.k8s.io/${version}/selfsubjectreviews`, {
      apiVersion: `authentication.k8s.io/${version}`,
      kind: "SelfSubjectReview",
    }).catch(() => undefined);
    if (response?.status === 200 || response?.status === 201) {
      return (response.body as { status?: { userInfo?: { username?: string; groups?: string[] } } })?.status?.userInfo;
    }
    if (response?.status !== 404) return undefined;
  }
  return undefined;
}

/** With an admin's view of the Secret, the one cause that applies. */
async function narrowCauses(admin: ApiTarget, token: BootstrapToken): Promise<string[]> {
  let info;
  try {
    info = await getTokenSecret(admin, token.id);
  } catch (error) {
    if (error instanceof KpkiError) return [...causesOf401(token.id), `(could not read the Secret with --kubeconfig: ${error.message})`];
    throw error;
  }
  if (!info) return [causesOf401(token.id)[0]!];
  const secretMatches = info.secret !== undefined && info.secret.length === token.secret.length && timingSafeEqual(Buffer.from(info.secret), Buffer.from(token.secret));
  if (!secretMatches) return [`token id ${token.id} exists, but the secret half given is not its secret`];
  if (info.problems.length > 0) return info.problems.map((problem) => `token ${token.id}: ${problem}`);
  return [
    "the token's Secret is valid, so bootstrap-token authentication is off on the API server: start kube-apiserver with --enable-bootstrap-token-auth=true (kubeadm sets it)",
  ];
}
