import { inputError } from "../errors.js";

/** The subject fields kpki sets: a common name and any number of organizations. */
export interface Subject {
  commonName: string;
  organizations: readonly string[];
}

/** RFC 4514 text of a subject, e.g. "CN=kube-apiserver-kubelet-client,O=kubeadm:cluster-admins". */
export function formatSubject(subject: Subject): string {
  const escape = (value: string) => value.replace(/([,+"\\<>;=])/g, "\\$1").replace(/^([ #])|( )$/g, "\\$1$2");
  return [`CN=${escape(subject.commonName)}`, ...subject.organizations.map((o) => `O=${escape(o)}`)].join(",");
}

/** JSON form @peculiar/x509 builds names from; O before CN, as Go orders them. */
export function subjectToJsonName(subject: Subject): Record<string, string[]>[] {
  return [
    ...subject.organizations.map((o) => ({ O: [o] })),
    { CN: [subject.commonName] },
  ];
}

export function checkSubjectText(value: string, flag: string): string {
  if (value.trim().length === 0) throw inputError(`${flag} is empty: give a name`);
  if (value.length > 64) throw inputError(`${flag} "${value.slice(0, 20)}…" is ${value.length} characters long; X.509 allows 64 at most`);
  if (/[\u0000-\u001f]/.test(value)) throw inputError(`${flag} contains control characters`);
  return value;
}
