import { randomInt, randomUUID } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import path from "node:path";
import type { TLSSocket } from "node:tls";
import { parse as parseYaml } from "yaml";
import { authenticate, commonName, hasPeerCertificate, type AuthMethod, type UserInfo } from "./authn.js";
import { BOOTSTRAP_SECRET_TYPE, bootstrapTokenSecret, clusterInfoKubeconfig, hasExpired, signClusterInfo, type BootstrapTokenSpec } from "./bootstrap.js";
import { apiGroup, apiGroupList, apiResourceList, apiVersions, servedGroupVersions } from "./discovery.js";
import { authorize, defaultRbac, type Subject } from "./rbac.js";
import { requestInfo, type RequestInfo } from "./requestinfo.js";
import { apiVersionOf, findResource, nameProblem, type KubeObject, type ResourceType } from "./resources.js";
import { decodeKubernetesProtobuf } from "./protobuf.js";
import { fieldMatcher, labelMatcher } from "./selectors.js";
import { API_AUDIENCES, issueServiceAccountToken, serviceAccountKeys, type IssuedToken, type ServiceAccountKeys } from "./serviceaccounts.js";
import * as statuses from "./status.js";
import { ObjectStore, rfc3339 } from "./store.js";

/**
 * A faithful stand-in for the parts of kube-apiserver that kpki talks to, for
 * tests on machines without one. See test/support/apiserver.ts for the
 * overview; each module cites the kube-apiserver code or the section of
 * /work/shared/reference/kubeadm-facts.md it follows.
 */

export interface SeenRequest {
  method: string;
  /** URL path without the query. */
  path: string;
  query: string;
  /** The authorizer's verb (get, list, create, … or the lower-cased method for paths). */
  verb: string;
  /** Undefined when authentication failed (401); "system:anonymous" for a request with no credentials. */
  user?: string;
  groups: string[];
  authenticatedBy?: AuthMethod;
  /** For a 401: why no authenticator accepted the credentials (the response body never says). */
  authenticationError?: string;
  /** For a 403: the denial message; for an allowed request: what allowed it. */
  authorization?: string;
  status: number;
  accept?: string;
  userAgent?: string;
}

export interface RejectedHandshake {
  /** The presented certificate's CN. */
  commonName?: string;
  /** OpenSSL's reason, e.g. UNABLE_TO_VERIFY_LEAF_SIGNATURE. */
  error: string;
}

export interface Credentials {
  /** Serving certificate (apiserver.crt) and key. */
  cert: Buffer | string;
  key: Buffer | string;
  /** Client CA (ca.crt): verifies client certificates; also goes into cluster-info and kube-root-ca.crt. */
  ca: Buffer | string;
  saPublicKeyPem?: Buffer | string;
  saPrivateKeyPem?: Buffer | string;
}

export interface ApiServerOptions {
  host?: string;
  port?: number;
  /** --enable-bootstrap-token-auth (kubeadm sets true). Default true. */
  bootstrapTokenAuth?: boolean;
  /** --anonymous-auth (default true; kubeadm keeps it for cluster-info). Default true. */
  anonymousAuth?: boolean;
  /** The server's clock: token expiry, JWT times, creationTimestamps. Default: the real time. */
  now?: () => Date;
  /** Service-account key pair (pki/sa.pub, pki/sa.key); may also come later through useCredentials/usePki. */
  saPublicKeyPem?: Buffer | string;
  saPrivateKeyPem?: Buffer | string;
  /**
   * data.kubeconfig of kube-public/cluster-info. Default: made from the server
   * URL and the CA when credentials arrive (kubeadm-facts §4 shape).
   */
  clusterInfoKubeconfig?: string;
  /**
   * A client certificate that does not verify: "unauthorized" (default) is
   * kube-apiserver's behaviour — its TLS config only requests certificates
   * (tls.RequestClientCert), the x509 authenticator fails and, with no other
   * credential, the request gets 401; "close" ends the connection instead
   * (this file's earlier behaviour, like Go's VerifyClientCertIfGiven).
   * Either way the refusal is recorded in `rejected`.
   */
  invalidClientCertificate?: "unauthorized" | "close";
  /** authentication.k8s.io versions serving SelfSubjectReview. Default ["v1", "v1beta1"]; ["v1beta1"] is a 1.27 server, [] a 1.26 one. */
  selfSubjectReviewVersions?: ("v1" | "v1beta1")[];
  /** Emulate kube-controller-manager's tokencleaner: expired bootstrap-token Secrets vanish at the next request. Default false. */
  tokenCleaner?: boolean;
  /** What GET /version answers. Default VERSION_INFO. */
  version?: typeof VERSION_INFO;
}

export interface TestApiServer {
  port: number;
  url: string;
  /** Requests that reached HTTP, in order. */
  seen: SeenRequest[];
  /** Connections whose client certificate did not verify. */
  rejected: RejectedHandshake[];
  /** The stored objects (live: changes show at once). */
  store: ObjectStore;
  /** Serve with this certificate and trust client certificates from `ca`. Until then every handshake fails. */
  useCredentials(credentials: Credentials): void;
  /** useCredentials from a kubeadm-layout pki folder: apiserver.crt/.key, ca.crt, and sa.pub/sa.key when present. */
  usePki(dir: string): void;
  /** Stores a bootstrap-token Secret as `kubeadm token create` would (kubeadm-facts §3.1); returns it and the token "id.secret". */
  createBootstrapTokenSecret(spec: BootstrapTokenSpec): { secret: KubeObject; token: string };
  /** A TokenRequest-style token for a stored ServiceAccount, without going through HTTP. */
  issueServiceAccountToken(namespace: string, name: string, options?: { expirationSeconds?: number; audiences?: string[] }): IssuedToken;
  /** kube-public/cluster-info as an anonymous GET would return it (with the BootstrapSigner's jws-kubeconfig-* keys). */
  clusterInfo(): KubeObject | undefined;
  close(): Promise<void>;
  /** Same as close(). */
  stop(): Promise<void>;
}

export const VERSION_INFO = {
  major: "1",
  minor: "32",
  gitVersion: "v1.32.0",
  gitCommit: "70d3cc986aa8221cd1dfb1121852688902d3bf53",
  gitTreeState: "clean",
  buildDate: "2024-12-11T17:59:15Z",
  goVersion: "go1.23.3",
  compiler: "gc",
  platform: "linux/amd64",
};

const DEFAULT_NAMESPACES = ["default", "kube-node-lease", "kube-public", "kube-system"];

// Go struct field order of the kinds served, for output that reads like the real thing.
const FIELD_ORDER: Record<string, string[]> = {
  Secret: ["kind", "apiVersion", "metadata", "immutable", "data", "stringData", "type"],
  ConfigMap: ["kind", "apiVersion", "metadata", "immutable", "data", "binaryData"],
  Namespace: ["kind", "apiVersion", "metadata", "spec", "status"],
  ServiceAccount: ["kind", "apiVersion", "metadata", "secrets", "imagePullSecrets", "automountServiceAccountToken"],
  ClusterRoleBinding: ["kind", "apiVersion", "metadata", "subjects", "roleRef"],
  RoleBinding: ["kind", "apiVersion", "metadata", "subjects", "roleRef"],
  ClusterRole: ["kind", "apiVersion", "metadata", "rules", "aggregationRule"],
  Role: ["kind", "apiVersion", "metadata", "rules"],
};
const META_ORDER = ["name", "generateName", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences", "finalizers", "managedFields"];

const sortedKeys = (record: unknown) =>
  record && typeof record === "object" ? Object.fromEntries(Object.entries(record as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : record;

function ordered(record: Record<string, unknown>, order: string[] | undefined): Record<string, unknown> {
  if (!order) return record;
  const out: Record<string, unknown> = {};
  for (const key of order) if (key in record) out[key] = record[key];
  for (const [key, value] of Object.entries(record)) if (!(key in out)) out[key] = value;
  return out;
}

/** A copy for the wire: Go's field order, and map keys sorted as encoding/json sorts them. */
function present(object: KubeObject): KubeObject {
  const copy = structuredClone(object) as KubeObject;
  for (const key of ["data", "stringData", "binaryData"]) if (copy[key]) copy[key] = sortedKeys(copy[key]);
  if (copy.metadata.labels) copy.metadata.labels = sortedKeys(copy.metadata.labels) as Record<string, string>;
  if (copy.metadata.annotations) copy.metadata.annotations = sortedKeys(copy.metadata.annotations) as Record<string, string>;
  copy.metadata = ordered(copy.metadata, META_ORDER) as KubeObject["metadata"];
  return ordered(copy, FIELD_ORDER[copy.kind ?? ""]) as KubeObject;
}

/** List items carry no kind/apiVersion in kube-apiserver's JSON. */
const asItem = (object: KubeObject) => {
  const { kind: _kind, apiVersion: _apiVersion, ...rest } = present(object);
  return rest;
};

type Negotiated = { as: "json" } | { as: "table"; version: "v1" | "v1beta1" };

/** Accept negotiation: the first acceptable entry wins; JSON tables are served, protobuf never (JSON instead). */
function negotiate(accept: string | undefined): Negotiated {
  for (const entry of (accept ?? "").split(",")) {
    const [media, ...rawParams] = entry.split(";").map((part) => part.trim());
    const params = Object.fromEntries(rawParams.map((param) => param.split("=").map((part) => part.trim()) as [string, string]));
    if (media !== "application/json" && media !== "*/*" && media !== "application/*") continue;
    if (params.as === undefined) return { as: "json" };
    if (params.as === "Table" && params.g === "meta.k8s.io" && (params.v === "v1" || params.v === "v1beta1")) return { as: "table", version: params.v };
  }
  return { as: "json" };
}

const STD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;
const GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: statuses.Status,
  ) {
    super(body.message);
  }
}

/**
 * Starts listening on host:port (port 0: a free one) at once, so a test can
 * learn the port, make certificates naming it, then hand them over with
 * useCredentials (or usePki).
 */
export async function startApiServer(options: ApiServerOptions = {}): Promise<TestApiServer> {
  const host = options.host ?? "127.0.0.1";
  const clock = options.now ?? (() => new Date());
  const store = new ObjectStore(clock);
  const seen: SeenRequest[] = [];
  const rejected: RejectedHandshake[] = [];
  const bootstrapTokenAuth = options.bootstrapTokenAuth ?? true;
  const anonymousAuth = options.anonymousAuth ?? true;
  const ssrVersions: string[] = options.selfSubjectReviewVersions ?? ["v1", "v1beta1"];
  const served = servedGroupVersions(ssrVersions);
  const closeOnBadCert = options.invalidClientCertificate === "close";
  let saKeys: ServiceAccountKeys | undefined = serviceAccountKeys(options.saPublicKeyPem, options.saPrivateKeyPem);
  let caPem: string | undefined;
  let url = "";
  let port = 0;

  // A fresh kubeadm cluster's objects.
  const seedNamespace = (name: string) => {
    store.put("namespaces", { metadata: { name, labels: { "kubernetes.io/metadata.name": name } }, spec: { finalizers: ["kubernetes"] }, status: { phase: "Active" } });
    store.put("serviceaccounts", { metadata: { name: "default", namespace: name } });
    if (caPem) store.put("configmaps", { metadata: { name: "kube-root-ca.crt", namespace: name, annotations: { "kubernetes.io/description": "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters." } }, data: { "ca.crt": caPem } });
  };
  for (const name of DEFAULT_NAMESPACES) seedNamespace(name);
  const rbac = defaultRbac();
  for (const role of rbac.clusterRoles) store.put("clusterroles", role);
  for (const binding of rbac.clusterRoleBindings) store.put("clusterrolebindings", binding);
  for (const role of rbac.roles) store.put("roles", role);
  for (const binding of rbac.roleBindings) store.put("rolebindings", binding);
  // kubeadm's uploaded configuration (abbreviated contents; the names and RBAC are what matter).
  store.put("configmaps", { metadata: { name: "kubeadm-config", namespace: "kube-system" }, data: { ClusterConfiguration: "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nclusterName: kubernetes\nkubernetesVersion: v1.32.0\n" } });
  store.put("configmaps", { metadata: { name: "kubelet-config", namespace: "kube-system" }, data: { kubelet: "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncgroupDriver: systemd\n" } });
  store.put("configmaps", { metadata: { name: "kube-proxy", namespace: "kube-system", labels: { app: "kube-proxy" } }, data: { "config.conf": "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n" } });
  const putClusterInfo = (kubeconfig: string) => store.put("configmaps", { metadata: { name: "cluster-info", namespace: "kube-public" }, data: { kubeconfig } });
  if (options.clusterInfoKubeconfig !== undefined) putClusterInfo(options.clusterInfoKubeconfig);

  /** The BootstrapSigner's view of cluster-info; other objects as stored. */
  const view = (object: KubeObject, now: Date): KubeObject =>
    object.kind === "ConfigMap" && object.metadata.namespace === "kube-public" && object.metadata.name === "cluster-info" ? signClusterInfo(object, store, now) : object;

  const cleanTokens = (now: Date) => {
    for (const secret of store.list("secrets", "kube-system")) if (secret.type === BOOTSTRAP_SECRET_TYPE && hasExpired(secret, now)) store.delete("secrets", "kube-system", secret.metadata.name!);
  };

  const handle = (request: IncomingMessage, response: ServerResponse) => {
    const socket = request.socket as TLSSocket;
    // A certificate that does not verify ends the connection in "close" mode, even if a request raced the secureConnection check.
    if (closeOnBadCert && (socket.destroyed || (!socket.authorized && hasPeerCertificate(socket)))) return void socket.destroy();
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => serve(request, response, Buffer.concat(chunks)));
  };

  function serve(request: IncomingMessage, response: ServerResponse, body: Buffer) {
    const method = request.method ?? "GET";
    const target = new URL(request.url ?? "/", "https://placeholder");
    const now = clock();
    if (options.tokenCleaner) cleanTokens(now);
    const info = requestInfo(method, target.pathname, target.searchParams);
    const record: SeenRequest = {
      method,
      path: target.pathname,
      query: target.search.replace(/^\?/, ""),
      verb: info.verb,
      user: undefined,
      groups: [],
      status: 0,
      accept: request.headers.accept,
      userAgent: request.headers["user-agent"],
    };
    const send = (status: number, payload: unknown, contentType = "application/json") => {
      record.status = status;
      seen.push(record);
      response.writeHead(status, { "Audit-Id": randomUUID(), "Cache-Control": "no-cache, private", "Content-Type": contentType, "X-Content-Type-Options": "nosniff" });
      response.end(typeof payload === "string" ? payload : `${JSON.stringify(payload)}\n`);
    };

    const authn = authenticate(request, { store, now, bootstrapTokenAuth, anonymousAuth, serviceAccountKeys: saKeys });
    if (!authn.ok) {
      record.authenticationError = authn.error;
      return send(401, statuses.unauthorized());
    }
    const user = authn.user;
    record.user = user.username;
    record.groups = user.groups;
    record.authenticatedBy = authn.method;

    const decision = authorize(store, { ...info, user: { name: user.username, groups: user.groups } });
    record.authorization = decision.allowed ? decision.by : decision.message;
    if (!decision.allowed) {
      return send(403, statuses.forbidden(info.resourceRequest ? { group: info.apiGroup, resource: info.resource } : undefined, info.name, decision.message));
    }

    try {
      const result = info.resourceRequest ? serveResource(info, request, body, user, now, target.searchParams) : serveNonResource(method, target.pathname);
      send(result.status, result.body, result.contentType);
    } catch (error) {
      if (error instanceof HttpError) return send(error.status, error.body);
      send(500, { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: `test apiserver: ${(error as Error).stack ?? error}`, reason: "InternalError", code: 500 });
    }
  }

  type Result = { status: number; body: unknown; contentType?: string };

  function serveNonResource(method: string, pathname: string): Result {
    const notFound = { status: 404, body: statuses.pathNotFound() };
    if (method !== "GET" && method !== "HEAD") return pathname === "/version" || pathname === "/api" || pathname === "/apis" ? { status: 405, body: statuses.methodNotAllowed() } : notFound;
    if (pathname === "/version" || pathname === "/version/") return { status: 200, body: options.version ?? VERSION_INFO };
    if (pathname === "/healthz" || pathname === "/livez" || pathname === "/readyz") return { status: 200, body: "ok", contentType: "text/plain; charset=utf-8" };
    if (pathname === "/api" || pathname === "/api/") return { status: 200, body: apiVersions(`${host}:${port}`) };
    if (pathname === "/apis" || pathname === "/apis/") return { status: 200, body: apiGroupList(served) };
    if (pathname === "/api/v1" || pathname === "/api/v1/") return { status: 200, body: apiResourceList("", "v1", served, ssrVersions) };
    const group = /^\/apis\/([^/]+)\/?$/.exec(pathname);
    if (group) {
      const document = apiGroup(group[1]!, served);
      return document ? { status: 200, body: document } : notFound;
    }
    const groupVersion = /^\/apis\/([^/]+)\/([^/]+)\/?$/.exec(pathname);
    if (groupVersion) {
      const document = apiResourceList(groupVersion[1]!, groupVersion[2]!, served, ssrVersions);
      return document ? { status: 200, body: document } : notFound;
    }
    return notFound;
  }

  function parseBody(request: IncomingMessage, body: Buffer): Record<string, unknown> {
    const contentType = (request.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
    if (contentType === "application/vnd.kubernetes.protobuf") {
      try {
        return decodeKubernetesProtobuf(body);
      } catch (error) {
        throw new HttpError(400, statuses.badRequest(`test apiserver: cannot read the protobuf body: ${(error as Error).message}`));
      }
    }
    if (contentType !== "" && contentType !== "application/json" && contentType !== "application/yaml") throw new HttpError(415, statuses.unsupportedMediaType(contentType));
    const text = body.toString("utf8");
    let value: unknown;
    try {
      value = contentType === "application/yaml" ? parseYaml(text) : JSON.parse(text);
    } catch (error) {
      throw new HttpError(400, statuses.badRequest(`couldn't get version/kind; json parse error: ${(error as Error).message}`));
    }
    if (!value || typeof value !== "object" || Array.isArray(value)) throw new HttpError(400, statuses.badRequest("Object 'Kind' is missing in the request body"));
    return value as Record<string, unknown>;
  }

  function serveResource(info: RequestInfo, request: IncomingMessage, body: Buffer, user: UserInfo, now: Date, query: URLSearchParams): Result {
    const notFoundPath = new HttpError(404, statuses.pathNotFound());
    if (!served.some((entry) => entry.group === info.apiGroup && entry.version === info.apiVersion)) throw notFoundPath;
    const verb = info.verb;

    // Sub-resources and create-only review resources.
    if (info.apiGroup === "" && info.resource === "serviceaccounts" && info.subresource === "token") {
      if (!info.namespace || !info.name) throw notFoundPath;
      if (verb !== "create") throw new HttpError(405, statuses.methodNotAllowed());
      return tokenRequest(info.namespace, info.name, parseBody(request, body), now);
    }
    if (info.apiGroup === "authentication.k8s.io" && info.resource === "selfsubjectreviews" && ssrVersions.includes(info.apiVersion)) {
      if (info.name || info.namespace) throw notFoundPath;
      if (verb !== "create") throw new HttpError(405, statuses.methodNotAllowed());
      parseBody(request, body);
      const userInfo: Record<string, unknown> = { username: user.username };
      if (user.uid) userInfo.uid = user.uid;
      userInfo.groups = user.groups;
      if (user.extra) userInfo.extra = user.extra;
      return { status: 201, body: { kind: "SelfSubjectReview", apiVersion: `authentication.k8s.io/${info.apiVersion}`, metadata: { creationTimestamp: null }, status: { userInfo } } };
    }
    if (info.apiGroup === "authorization.k8s.io" && info.apiVersion === "v1" && info.resource === "selfsubjectaccessreviews") {
      if (info.name || info.namespace) throw notFoundPath;
      if (verb !== "create") throw new HttpError(405, statuses.methodNotAllowed());
      return selfSubjectAccessReview(parseBody(request, body), user);
    }

    const type = findResource(info.apiGroup, info.apiVersion, info.resource);
    if (!type || info.subresource) throw notFoundPath;
    const urlName = info.nameFromSelector ? "" : info.name;
    // /api/v1/namespaces/<name> is the Namespace <name> (its request namespace is itself).
    const namespace = type.resource === "namespaces" ? undefined : info.namespace || undefined;
    if (!type.namespaced && type.resource !== "namespaces" && info.namespace) throw notFoundPath;
    if (type.namespaced && !namespace && (urlName || verb !== "list")) throw notFoundPath;
    const allowed = (apiVerb: string) => {
      if (!type.verbs.includes(apiVerb)) throw new HttpError(405, statuses.methodNotAllowed());
    };
    const resourceRef = { group: type.group, resource: type.resource };
    const negotiated = negotiate(request.headers.accept);
    const dryRun = query.getAll("dryRun").includes("All");

    switch (verb) {
      case "get": {
        allowed("get");
        const object = store.get(type.resource, namespace, urlName);
        if (!object) throw new HttpError(404, statuses.notFound(resourceRef, urlName));
        const shown = view(object, now);
        return { status: 200, body: negotiated.as === "table" ? table(type, [shown], negotiated.version, now, query) : present(shown) };
      }
      case "list": {
        allowed("list");
        let labels: (labels: Record<string, string>) => boolean;
        let fields: (object: KubeObject) => boolean;
        try {
          labels = labelMatcher(query.get("labelSelector"));
          fields = fieldMatcher(type, query.get("fieldSelector"));
        } catch (error) {
          throw new HttpError(400, statuses.badRequest((error as Error).message));
        }
        let items = store
          .list(type.resource, namespace)
          .map((object) => view(object, now))
          .filter((object) => labels(object.metadata.labels ?? {}) && fields(object));
        const listMeta: Record<string, string | number> = { resourceVersion: store.resourceVersion };
        const start = Number(query.get("continue") ? Buffer.from(query.get("continue")!, "base64url").toString("utf8") : 0);
        if (!Number.isInteger(start) || start < 0) throw new HttpError(400, statuses.badRequest("continue key is not valid"));
        const limit = Number(query.get("limit") ?? 0);
        items = items.slice(start);
        if (limit > 0 && items.length > limit) {
          listMeta.continue = Buffer.from(String(start + limit)).toString("base64url");
          listMeta.remainingItemCount = items.length - limit;
          items = items.slice(0, limit);
        }
        if (negotiated.as === "table") return { status: 200, body: table(type, items, negotiated.version, now, query, listMeta) };
        return { status: 200, body: { kind: `${type.kind}List`, apiVersion: apiVersionOf(type), metadata: listMeta, items: items.map(asItem) } };
      }
      case "create": {
        if (urlName) throw new HttpError(405, statuses.methodNotAllowed());
        allowed("create");
        const object = prepare(type, parseBody(request, body), namespace, user, "create");
        if (namespace && !store.get("namespaces", undefined, namespace)) throw new HttpError(404, statuses.notFound({ group: "", resource: "namespaces" }, namespace));
        if (store.get(type.resource, namespace, object.metadata.name!)) throw new HttpError(409, statuses.alreadyExists(resourceRef, object.metadata.name!));
        if (dryRun) return { status: 201, body: present({ ...object, kind: type.kind, apiVersion: apiVersionOf(type), metadata: { ...object.metadata, uid: randomUUID(), creationTimestamp: rfc3339(now) } }) };
        const stored = store.put(type.resource, object);
        if (type.resource === "namespaces") {
          store.put("serviceaccounts", { metadata: { name: "default", namespace: stored.metadata.name } });
          if (caPem) store.put("configmaps", { metadata: { name: "kube-root-ca.crt", namespace: stored.metadata.name }, data: { "ca.crt": caPem } });
        }
        return { status: 201, body: present(view(stored, now)) };
      }
      case "update": {
        allowed("update");
        const incoming = parseBody(request, body);
        const incomingName = (incoming.metadata as { name?: string } | undefined)?.name;
        if (incomingName !== urlName) throw new HttpError(400, statuses.badRequest(`the name of the object (${incomingName ?? ""}) does not match the name on the URL (${urlName})`));
        const current = store.get(type.resource, namespace, urlName);
        if (!current) throw new HttpError(404, statuses.notFound(resourceRef, urlName));
        const object = prepare(type, incoming, namespace, user, "update");
        const expected = object.metadata.resourceVersion;
        if (expected && expected !== current.metadata.resourceVersion) throw new HttpError(409, statuses.conflict(resourceRef, urlName));
        if (dryRun) return { status: 200, body: present({ ...current, ...object, metadata: { ...object.metadata, uid: current.metadata.uid, creationTimestamp: current.metadata.creationTimestamp } }) };
        return { status: 200, body: present(view(store.update(type.resource, object), now)) };
      }
      case "delete": {
        allowed("delete");
        const current = store.get(type.resource, namespace, urlName);
        if (!current) throw new HttpError(404, statuses.notFound(resourceRef, urlName));
        if (dryRun) return { status: 200, body: statuses.deleted(resourceRef, urlName, current.metadata.uid!) };
        if (current.metadata.finalizers?.length) {
          // Finalizers pending: marked, kept, and returned (the bootstrap authenticator refuses it from now on).
          current.metadata.deletionTimestamp ??= rfc3339(now);
          return { status: 200, body: present(current) };
        }
        store.delete(type.resource, namespace, urlName);
        return { status: 200, body: statuses.deleted(resourceRef, urlName, current.metadata.uid!) };
      }
      default:
        throw new HttpError(405, statuses.methodNotAllowed());
    }
  }

  /** Defaults and validation for a create or update body, as the registry strategies do for these kinds. */
  function prepare(type: ResourceType, raw: Record<string, unknown>, namespace: string | undefined, user: UserInfo, operation: "create" | "update"): KubeObject {
    const kind = { group: type.group, kind: type.kind };
    if (raw.kind !== undefined && raw.kind !== type.kind) throw new HttpError(400, statuses.badRequest(`${String(raw.kind)} in version "${type.version}" cannot be handled as a ${type.kind}: the object provided is unrecognized`));
    if (raw.apiVersion !== undefined && raw.apiVersion !== apiVersionOf(type)) throw new HttpError(400, statuses.badRequest(`the API version in the data (${String(raw.apiVersion)}) does not match the expected API version (${apiVersionOf(type)})`));
    const object = structuredClone(raw) as KubeObject;
    object.metadata = { ...((raw.metadata as KubeObject["metadata"] | undefined) ?? {}) };
    delete object.metadata.managedFields;
    if (object.metadata.creationTimestamp === null) delete object.metadata.creationTimestamp;
    if (operation === "create") {
      delete object.metadata.uid;
      delete object.metadata.resourceVersion;
      delete object.metadata.creationTimestamp;
      delete object.metadata.deletionTimestamp;
    }
    if (type.namespaced) {
      if (object.metadata.namespace && object.metadata.namespace !== namespace) throw new HttpError(400, statuses.badRequest("the namespace of the provided object does not match the namespace sent on the request"));
      object.metadata.namespace = namespace;
    } else delete object.metadata.namespace;
    if (!object.metadata.name && object.metadata.generateName && operation === "create") {
      object.metadata.name = `${object.metadata.generateName}${Array.from({ length: 5 }, () => GENERATE_ALPHABET[randomInt(GENERATE_ALPHABET.length)]).join("")}`;
    }
    const errors: statuses.FieldError[] = [];
    const name = object.metadata.name ?? "";
    if (!name) errors.push({ type: "FieldValueRequired", field: "metadata.name", detail: "name or generateName is required" });
    else {
      const problem = nameProblem(type.nameRule, name);
      if (problem) errors.push({ type: "FieldValueInvalid", field: "metadata.name", detail: problem, value: name });
    }

    const checkKeys = (field: string, record: unknown) => {
      if (record === undefined || record === null) return;
      if (typeof record !== "object" || Array.isArray(record)) throw new HttpError(400, statuses.badRequest(`${type.kind} in version "v1" cannot be handled as a ${type.kind}: ${field} must be an object`));
      for (const key of Object.keys(record)) {
        if (key.length > 253 || !CONFIG_KEY.test(key) || key === "." || key === "..")
          errors.push({ type: "FieldValueInvalid", field: `${field}[${key}]`, value: key, detail: "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')" });
      }
    };
    switch (type.resource) {
      case "secrets": {
        const data = { ...((object.data as Record<string, unknown> | undefined) ?? {}) };
        checkKeys("data", object.data);
        for (const value of Object.values(data)) {
          if (typeof value !== "string" || !STD_BASE64.test(value)) {
            const text = String(value);
            const at = [...text].findIndex((char) => !/[A-Za-z0-9+/=]/.test(char));
            throw new HttpError(400, statuses.badRequest(`Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte ${at < 0 ? text.length : at}`));
          }
        }
        checkKeys("stringData", object.stringData);
        for (const [key, value] of Object.entries((object.stringData as Record<string, unknown> | undefined) ?? {})) data[key] = Buffer.from(String(value), "utf8").toString("base64");
        delete object.stringData;
        if (Object.keys(data).length > 0 || object.data !== undefined) object.data = data;
        object.type ??= "Opaque";
        break;
      }
      case "configmaps":
        checkKeys("data", object.data);
        checkKeys("binaryData", object.binaryData);
        break;
      case "namespaces":
        object.metadata.labels = { ...(object.metadata.labels ?? {}), "kubernetes.io/metadata.name": name };
        object.spec = { finalizers: ["kubernetes"] };
        object.status = { phase: "Active" };
        break;
      case "clusterrolebindings":
      case "rolebindings":
        errors.push(...bindingErrors(object, type.resource === "clusterrolebindings"));
        break;
      case "certificatesigningrequests": {
        const spec = { ...((object.spec as Record<string, unknown> | undefined) ?? {}) };
        if (!spec.request) errors.push({ type: "FieldValueRequired", field: "spec.request", detail: "" });
        if (!spec.signerName) errors.push({ type: "FieldValueRequired", field: "spec.signerName", detail: "" });
        // The registry records who asked (csr strategy PrepareForCreate).
        Object.assign(spec, { username: user.username, uid: user.uid, groups: user.groups, extra: user.extra });
        for (const key of ["uid", "extra"]) if (spec[key] === undefined) delete spec[key];
        object.spec = spec;
        object.status = {};
        break;
      }
    }
    if (errors.length) throw new HttpError(422, statuses.invalid(kind, name, errors));
    return object;
  }

  /** rbac validation: roleRef (apiGroup defaulted, kind, name) and subjects (kind, name, apiGroup defaulted, SA namespace). */
  function bindingErrors(object: KubeObject, cluster: boolean): statuses.FieldError[] {
    const errors: statuses.FieldError[] = [];
    const RBAC_GROUP = "rbac.authorization.k8s.io";
    const roleRef = { ...((object.roleRef as Record<string, string> | undefined) ?? {}) };
    roleRef.apiGroup ||= RBAC_GROUP;
    if (roleRef.apiGroup !== RBAC_GROUP) errors.push({ type: "FieldValueNotSupported", field: "roleRef.apiGroup", value: roleRef.apiGroup, detail: `supported values: "${RBAC_GROUP}"` });
    const kinds = cluster ? ["ClusterRole"] : ["Role", "ClusterRole"];
    if (!kinds.includes(roleRef.kind ?? "")) errors.push({ type: "FieldValueNotSupported", field: "roleRef.kind", value: roleRef.kind ?? "", detail: `supported values: ${kinds.map((kind) => `"${kind}"`).join(", ")}` });
    if (!roleRef.name) errors.push({ type: "FieldValueRequired", field: "roleRef.name", detail: "" });
    object.roleRef = { apiGroup: roleRef.apiGroup, kind: roleRef.kind, name: roleRef.name };
    const subjects = ((object.subjects as Subject[] | undefined) ?? []).map((subject) => ({ ...subject }));
    subjects.forEach((subject, index) => {
      const field = `subjects[${index}]`;
      if (!subject.name) errors.push({ type: "FieldValueRequired", field: `${field}.name`, detail: "" });
      if (subject.kind === "ServiceAccount") {
        if (subject.apiGroup) errors.push({ type: "FieldValueNotSupported", field: `${field}.apiGroup`, value: subject.apiGroup, detail: 'supported values: ""' });
        if (subject.name && nameProblem("subdomain", subject.name)) errors.push({ type: "FieldValueInvalid", field: `${field}.name`, value: subject.name, detail: nameProblem("subdomain", subject.name)! });
        if (cluster && !subject.namespace) errors.push({ type: "FieldValueRequired", field: `${field}.namespace`, detail: "" });
      } else if (subject.kind === "User" || subject.kind === "Group") {
        subject.apiGroup ||= RBAC_GROUP;
        if (subject.apiGroup !== RBAC_GROUP) errors.push({ type: "FieldValueNotSupported", field: `${field}.apiGroup`, value: subject.apiGroup, detail: `supported values: "${RBAC_GROUP}"` });
      } else {
        errors.push({ type: "FieldValueNotSupported", field: `${field}.kind`, value: subject.kind ?? "", detail: 'supported values: "ServiceAccount", "User", "Group"' });
      }
    });
    if (object.subjects !== undefined) object.subjects = subjects;
    return errors;
  }

  /** meta.k8s.io Table of the objects (server-side printing), rows carrying PartialObjectMetadata unless includeObject says otherwise. */
  function table(type: ResourceType, objects: KubeObject[], version: string, now: Date, query: URLSearchParams, listMeta: Record<string, string | number> = { resourceVersion: store.resourceVersion }) {
    const include = query.get("includeObject") ?? "Metadata";
    return {
      kind: "Table",
      apiVersion: `meta.k8s.io/${version}`,
      metadata: listMeta,
      columnDefinitions: type.columns,
      rows: objects.map((object) => {
        const row: Record<string, unknown> = { cells: type.cells(object, now) };
        if (include === "Object") row.object = present(object);
        else if (include !== "None") row.object = { kind: "PartialObjectMetadata", apiVersion: `meta.k8s.io/${version}`, metadata: present(object).metadata };
        return row;
      }),
    };
  }

  /** POST …/serviceaccounts/<name>/token (authentication.k8s.io/v1 TokenRequest). */
  function tokenRequest(namespace: string, name: string, raw: Record<string, unknown>, now: Date): Result {
    const serviceAccount = store.get("serviceaccounts", namespace, name);
    if (!serviceAccount) throw new HttpError(404, statuses.notFound({ group: "", resource: "serviceaccounts" }, name));
    const spec = (raw.spec ?? {}) as { expirationSeconds?: number; audiences?: string[] | null; boundObjectRef?: unknown };
    // SetDefaults_TokenRequestSpec: one hour; audiences default to the API audiences.
    const expirationSeconds = spec.expirationSeconds ?? 3600;
    const audiences = spec.audiences?.length ? spec.audiences : API_AUDIENCES;
    const kind = { group: "authentication.k8s.io", kind: "TokenRequest" };
    if (expirationSeconds < 600) throw new HttpError(422, statuses.invalid(kind, name, [{ type: "FieldValueInvalid", field: "spec.expirationSeconds", value: expirationSeconds, detail: "may not specify a duration less than 10 minutes" }]));
    if (expirationSeconds > 2 ** 32) throw new HttpError(422, statuses.invalid(kind, name, [{ type: "FieldValueInvalid", field: "spec.expirationSeconds", value: expirationSeconds, detail: "may not specify a duration larger than 2^32 seconds" }]));
    if (spec.boundObjectRef) throw new HttpError(422, statuses.invalid(kind, name, [{ type: "FieldValueForbidden", field: "spec.boundObjectRef", detail: "bound tokens are not implemented by the test apiserver" }]));
    if (!saKeys?.privateKey) throw new Error("the test apiserver has no service-account signing key: pass saPrivateKeyPem or use usePki");
    const issued = issueServiceAccountToken(saKeys, serviceAccount, { now, expirationSeconds, audiences });
    return {
      status: 201,
      body: {
        kind: "TokenRequest",
        apiVersion: "authentication.k8s.io/v1",
        metadata: { name, namespace, creationTimestamp: rfc3339(now) },
        spec: { audiences, expirationSeconds, boundObjectRef: null },
        status: { token: issued.token, expirationTimestamp: rfc3339(issued.expirationTimestamp) },
      },
    };
  }

  /** POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews (kubectl auth can-i). */
  function selfSubjectAccessReview(raw: Record<string, unknown>, user: UserInfo): Result {
    const spec = (raw.spec ?? {}) as {
      resourceAttributes?: { namespace?: string; verb?: string; group?: string; version?: string; resource?: string; subresource?: string; name?: string };
      nonResourceAttributes?: { path?: string; verb?: string };
    };
    const base = { user: { name: user.username, groups: user.groups }, apiVersion: "", path: "" };
    const attributes = spec.resourceAttributes
      ? {
          ...base,
          resourceRequest: true,
          verb: spec.resourceAttributes.verb ?? "",
          apiGroup: spec.resourceAttributes.group ?? "",
          resource: spec.resourceAttributes.resource ?? "",
          subresource: spec.resourceAttributes.subresource ?? "",
          namespace: spec.resourceAttributes.namespace ?? "",
          name: spec.resourceAttributes.name ?? "",
        }
      : { ...base, resourceRequest: false, verb: spec.nonResourceAttributes?.verb ?? "", path: spec.nonResourceAttributes?.path ?? "", apiGroup: "", resource: "", subresource: "", namespace: "", name: "" };
    const decision = authorize(store, attributes);
    const status: Record<string, unknown> = { allowed: decision.allowed };
    if (decision.allowed && decision.by) status.reason = `RBAC: allowed by ${decision.by}`;
    return { status: 201, body: { kind: "SelfSubjectAccessReview", apiVersion: "authorization.k8s.io/v1", metadata: { creationTimestamp: null }, spec, status } };
  }

  // No certificate yet: handshakes fail until useCredentials. Client certificates are requested, never required.
  const server = https.createServer({ requestCert: true, rejectUnauthorized: false }, handle);
  server.on("secureConnection", (socket: TLSSocket) => {
    if (socket.authorized || !hasPeerCertificate(socket)) return;
    rejected.push({ commonName: commonName(socket.getPeerCertificate().subject?.CN), error: String(socket.authorizationError) });
    if (closeOnBadCert) socket.destroy();
  });
  server.on("tlsClientError", () => {
    // A client that gives up on our certificate: nothing to serve.
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  url = `https://${host.includes(":") ? `[${host}]` : host}:${port}`;

  const useCredentials = (credentials: Credentials) => {
    server.setSecureContext({ cert: credentials.cert, key: credentials.key, ca: credentials.ca });
    if (credentials.saPublicKeyPem || credentials.saPrivateKeyPem) saKeys = serviceAccountKeys(credentials.saPublicKeyPem, credentials.saPrivateKeyPem);
    caPem = Buffer.from(credentials.ca).toString("utf8");
    for (const namespace of store.list("namespaces")) {
      if (!store.get("configmaps", namespace.metadata.name, "kube-root-ca.crt")) store.put("configmaps", { metadata: { name: "kube-root-ca.crt", namespace: namespace.metadata.name }, data: { "ca.crt": caPem } });
    }
    if (!store.get("configmaps", "kube-public", "cluster-info")) putClusterInfo(clusterInfoKubeconfig(url, caPem));
  };

  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });

  return {
    port,
    url,
    seen,
    rejected,
    store,
    useCredentials,
    usePki(dir: string) {
      const read = (name: string) => readFileSync(path.join(dir, name));
      const optional = (name: string) => (existsSync(path.join(dir, name)) ? read(name) : undefined);
      useCredentials({ cert: read("apiserver.crt"), key: read("apiserver.key"), ca: read("ca.crt"), saPublicKeyPem: optional("sa.pub"), saPrivateKeyPem: optional("sa.key") });
    },
    createBootstrapTokenSecret(spec) {
      const secret = store.put("secrets", bootstrapTokenSecret(spec));
      return { secret, token: `${spec.id}.${spec.secret}` };
    },
    issueServiceAccountToken(namespace, name, tokenOptions = {}) {
      const serviceAccount = store.get("serviceaccounts", namespace, name);
      if (!serviceAccount) throw new Error(`no ServiceAccount ${namespace}/${name}`);
      if (!saKeys?.privateKey) throw new Error("the test apiserver has no service-account signing key");
      return issueServiceAccountToken(saKeys, serviceAccount, { now: clock(), expirationSeconds: tokenOptions.expirationSeconds ?? 3600, audiences: tokenOptions.audiences ?? API_AUDIENCES });
    },
    clusterInfo() {
      const object = store.get("configmaps", "kube-public", "cluster-info");
      return object ? present(view(object, clock())) : undefined;
    },
    close,
    stop: close,
  };
}
