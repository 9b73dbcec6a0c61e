import type { IncomingMessage } from "node:http";
import type { TLSSocket } from "node:tls";
import { authenticateBootstrapToken } from "./bootstrap.js";
import { authenticateServiceAccountToken, type ServiceAccountKeys } from "./serviceaccounts.js";
import type { ObjectStore } from "./store.js";

/**
 * Request authentication in kube-apiserver's order
 * (pkg/kubeapiserver/authenticator/config.go): a union of x509 client
 * certificates, then bearer tokens (bootstrap tokens when
 * --enable-bootstrap-token-auth, then service-account JWTs); an authenticator
 * that errors does not stop the union, but when none accepts and any errored
 * the request fails (union.NewFailOnError in front of anonymous): 401. With no
 * credentials at all the request is anonymous (--anonymous-auth=true, the
 * default kubeadm keeps): system:anonymous in system:unauthenticated.
 * Finally system:authenticated is added to every user that has neither it
 * nor system:unauthenticated (AuthenticatedGroupAdder).
 */

export type AuthMethod = "x509" | "bootstrap-token" | "serviceaccount-token" | "anonymous";

export interface UserInfo {
  username: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
}

export type AuthnResult = { ok: true; user: UserInfo; method: AuthMethod } | { ok: false; error: string };

export interface AuthnConfig {
  store: ObjectStore;
  now: Date;
  bootstrapTokenAuth: boolean;
  anonymousAuth: boolean;
  serviceAccountKeys?: ServiceAccountKeys;
}

const asList = (value: string | string[] | undefined): string[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);
/** The subject's CN; with several, the last, as Go's pkix.Name keeps it. */
export const commonName = (value: string | string[] | undefined): string | undefined => asList(value).at(-1);

export const hasPeerCertificate = (socket: TLSSocket): boolean => Object.keys(socket.getPeerCertificate?.() ?? {}).length > 0;

function addAuthenticated(user: UserInfo): UserInfo {
  if (user.groups.includes("system:authenticated") || user.groups.includes("system:unauthenticated")) return user;
  return { ...user, groups: [...user.groups, "system:authenticated"] };
}

export function authenticate(request: IncomingMessage, config: AuthnConfig): AuthnResult {
  const errors: string[] = [];
  const socket = request.socket as TLSSocket;

  // x509 (request/x509): the chain verified against the client CA with the clientAuth usage —
  // OpenSSL did that in the handshake (requestCert without rejectUnauthorized, like Go's
  // RequestClientCert); CN is the user, each O a group.
  if (hasPeerCertificate(socket)) {
    if (socket.authorized) {
      const peer = socket.getPeerCertificate();
      const name = commonName(peer.subject?.CN);
      // CommonNameUserConversion: no CN is "not mine" (no error): the request may still be anonymous.
      if (name) return { ok: true, method: "x509", user: addAuthenticated({ username: name, groups: asList(peer.subject.O) }) };
    } else {
      errors.push(`x509: ${String(socket.authorizationError)}`);
    }
  }

  // Bearer tokens (request/bearertoken): "Authorization: Bearer <token>", split on single spaces;
  // a missing or empty token is no credential at all; a token no authenticator accepts is an error.
  const header = (request.headers.authorization ?? "").trim();
  if (header) {
    const parts = header.split(" ");
    if (parts.length >= 2 && parts[0]!.toLowerCase() === "bearer" && parts[1] !== "") {
      const token = parts[1]!;
      const reasons: string[] = [];
      if (config.bootstrapTokenAuth) {
        const result = authenticateBootstrapToken(token, config.store, config.now);
        if ("identity" in result) return { ok: true, method: "bootstrap-token", user: addAuthenticated({ username: result.identity.name, groups: result.identity.groups }) };
        reasons.push(`bootstrap token: ${result.rejected}`);
      } else {
        reasons.push("bootstrap token: bootstrap token authentication is disabled (--enable-bootstrap-token-auth=false)");
      }
      const sa = authenticateServiceAccountToken(token, config.serviceAccountKeys, config.store, config.now);
      if ("identity" in sa) {
        const user: UserInfo = { username: sa.identity.name, uid: sa.identity.uid, groups: sa.identity.groups };
        if (sa.identity.extra) user.extra = sa.identity.extra;
        return { ok: true, method: "serviceaccount-token", user: addAuthenticated(user) };
      }
      reasons.push(`service-account token: ${sa.rejected}`);
      errors.push(`invalid bearer token (${reasons.join("; ")})`);
    }
  }

  if (errors.length > 0) return { ok: false, error: errors.join("; ") };
  if (!config.anonymousAuth) return { ok: false, error: "no credentials and anonymous authentication is disabled" };
  return { ok: true, method: "anonymous", user: { username: "system:anonymous", groups: ["system:unauthenticated"] } };
}
