import { RESOURCES, VIRTUAL_RESOURCES, apiVersionOf } from "./resources.js";

/**
 * Legacy (unaggregated) discovery: /api, /apis, /apis/<group>,
 * /api/v1 and /apis/<group>/<version>. kubectl asks for aggregated discovery
 * first (Accept …;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList) and,
 * when the answer's Content-Type is plain application/json, falls back to
 * these documents, as it does with servers older than 1.26. A real 1.32
 * server would answer the aggregated form.
 */

export interface GroupVersion {
  group: string;
  version: string;
}

/** Group versions served, preferred first within a group. */
export function servedGroupVersions(selfSubjectReviewVersions: readonly string[]): GroupVersion[] {
  const versions: GroupVersion[] = [{ group: "", version: "v1" }];
  const add = (group: string, version: string) => {
    if (!versions.some((entry) => entry.group === group && entry.version === version)) versions.push({ group, version });
  };
  for (const type of RESOURCES) add(type.group, type.version);
  for (const type of VIRTUAL_RESOURCES) {
    if (type.group === "authentication.k8s.io" && type.name === "selfsubjectreviews" && !selfSubjectReviewVersions.includes(type.version)) continue;
    add(type.group, type.version);
  }
  // TokenRequest's own group must be discoverable even when only v1beta1 SelfSubjectReview is on.
  add("authentication.k8s.io", "v1");
  return versions;
}

export function apiVersions(serverAddress: string) {
  return { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }] };
}

function groupEntry(name: string, versions: GroupVersion[]) {
  const list = versions.filter((entry) => entry.group === name).map((entry) => ({ groupVersion: `${name}/${entry.version}`, version: entry.version }));
  // Prefer v1 over betas, as the real group does.
  const preferred = list.find((entry) => entry.version === "v1") ?? list[0]!;
  return { name, versions: list, preferredVersion: preferred };
}

export function apiGroupList(versions: GroupVersion[]) {
  const names = [...new Set(versions.map((entry) => entry.group).filter((group) => group !== ""))];
  return { kind: "APIGroupList", apiVersion: "v1", groups: names.map((name) => groupEntry(name, versions)) };
}

export function apiGroup(name: string, versions: GroupVersion[]) {
  if (!versions.some((entry) => entry.group === name)) return undefined;
  return { kind: "APIGroup", apiVersion: "v1", ...groupEntry(name, versions) };
}

export function apiResourceList(group: string, version: string, versions: GroupVersion[], selfSubjectReviewVersions: readonly string[]) {
  if (!versions.some((entry) => entry.group === group && entry.version === version)) return undefined;
  const resources: Record<string, unknown>[] = [];
  for (const type of RESOURCES.filter((candidate) => candidate.group === group && candidate.version === version)) {
    const entry: Record<string, unknown> = { name: type.resource, singularName: type.singular, namespaced: type.namespaced, kind: type.kind, verbs: [...type.verbs].sort() };
    if (type.shortNames) entry.shortNames = type.shortNames;
    resources.push(entry);
  }
  for (const type of VIRTUAL_RESOURCES.filter((candidate) => candidate.group === group && candidate.version === version)) {
    if (type.name === "selfsubjectreviews" && !selfSubjectReviewVersions.includes(type.version)) continue;
    const entry: Record<string, unknown> = { name: type.name, singularName: type.singular, namespaced: type.namespaced };
    if (type.kindGroup) Object.assign(entry, { group: type.kindGroup, version: type.kindVersion });
    Object.assign(entry, { kind: type.kind, verbs: type.verbs });
    resources.push(entry);
  }
  resources.sort((a, b) => String(a.name).localeCompare(String(b.name)));
  const list: Record<string, unknown> = { kind: "APIResourceList" };
  if (group) list.apiVersion = "v1";
  list.groupVersion = apiVersionOf({ group, version });
  list.resources = resources;
  return list;
}
