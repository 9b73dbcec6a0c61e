import { inputError } from "../errors.js";

/** The subject fields kpki sets: a common name and any number of organizations. */
export interface Subject {
  commonName: string;
  organizations: readonly string[];
}

/**
 * A subject as text, in the order the certificate encodes it (O before CN,
 * as Go does), e.g. "O=kubeadm:cluster-admins, CN=kubernetes-admin": the same
 * text @peculiar/x509 gives for the issued certificate.
 */
export function formatSubject(subject: Subject): string {
  const escape = (value: string) => value.replace(/([,+"\\<>;=])/g, "\\$1").replace(/^([ #])|( )$/g, "\\$1$2");
  return [...subject.organizations.map((o) => `O=${escape(o)}`), `CN=${escape(subject.commonName)}`].join(", ");
}

/** X.680's PrintableString characters: a value of only these is encoded as one (as Go and @peculiar/x509 do), else as UTF8String. */
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

type JsonNameValue = { printableString: string } | { utf8String: string };

/**
 * JSON form @peculiar/x509 builds names from; O before CN, as Go orders
 * them. Each value is given with its string type: a bare string there is
 * read as RFC 4514 text (a leading "#" as hex-encoded DER, quotes and
 * backslash escapes taken away), which would change what the user wrote.
 */
export function subjectToJsonName(subject: Subject): Record<string, JsonNameValue[]>[] {
  const value = (text: string): JsonNameValue => (PRINTABLE.test(text) ? { printableString: text } : { utf8String: text });
  return [...subject.organizations.map((o) => ({ O: [value(o)] })), { CN: [value(subject.commonName)] }];
}

export function checkSubjectText(value: string, flag: string): string {
  if (value.trim().length === 0) throw inputError(`${flag} is empty: give a name`);
  if (value.length > 64) throw inputError(`${flag} "${value.slice(0, 20)}…" is ${value.length} characters long; X.509 allows 64 at most`);
  if (/[\u0000-\u001f]/.test(value)) throw inputError(`${flag} contains control characters`);
  return value;
}
