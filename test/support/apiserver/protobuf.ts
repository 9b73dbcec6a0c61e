/**
 * Reading Kubernetes protobuf request bodies (application/vnd.kubernetes.protobuf),
 * which kubectl's typed clients send for built-in kinds (auth whoami, create
 * serviceaccount/token/clusterrolebinding…). The wire format: the 4 bytes
 * "k8s\0", then a runtime.Unknown {typeMeta{apiVersion=1, kind=2}=1, raw=2,
 * contentEncoding=3, contentType=4} whose raw is the object's message, whose
 * field numbers are those of k8s.io/api's generated.proto. Only the kinds and
 * fields this fake serves are described; unknown fields are skipped, as
 * proto2 decoders do. The result is the object's JSON form (bytes → base64).
 */

type Scalar = "string" | "bytes" | "int64" | "int32" | "bool";
interface Field {
  name: string;
  type: Scalar | Schema | "time";
  repeated?: boolean;
  /** map<string, V>: entries are messages {key=1, value=2}. */
  map?: Scalar | Schema;
}
type Schema = Record<number, Field>;

const OWNER_REFERENCE: Schema = { 1: { name: "kind", type: "string" }, 3: { name: "name", type: "string" }, 4: { name: "uid", type: "string" }, 5: { name: "apiVersion", type: "string" }, 6: { name: "controller", type: "bool" }, 7: { name: "blockOwnerDeletion", type: "bool" } };
const OBJECT_META: Schema = {
  1: { name: "name", type: "string" },
  2: { name: "generateName", type: "string" },
  3: { name: "namespace", type: "string" },
  5: { name: "uid", type: "string" },
  6: { name: "resourceVersion", type: "string" },
  7: { name: "generation", type: "int64" },
  8: { name: "creationTimestamp", type: "time" },
  9: { name: "deletionTimestamp", type: "time" },
  11: { name: "labels", type: "string", map: "string" },
  12: { name: "annotations", type: "string", map: "string" },
  13: { name: "ownerReferences", type: OWNER_REFERENCE, repeated: true },
  14: { name: "finalizers", type: "string", repeated: true },
};
const OBJECT_REFERENCE: Schema = { 1: { name: "kind", type: "string" }, 2: { name: "namespace", type: "string" }, 3: { name: "name", type: "string" }, 4: { name: "uid", type: "string" }, 5: { name: "apiVersion", type: "string" } };
const SUBJECT: Schema = { 1: { name: "kind", type: "string" }, 2: { name: "apiGroup", type: "string" }, 3: { name: "name", type: "string" }, 4: { name: "namespace", type: "string" } };
const ROLE_REF: Schema = { 1: { name: "apiGroup", type: "string" }, 2: { name: "kind", type: "string" }, 3: { name: "name", type: "string" } };
const BINDING: Schema = { 1: { name: "metadata", type: OBJECT_META }, 2: { name: "subjects", type: SUBJECT, repeated: true }, 3: { name: "roleRef", type: ROLE_REF } };

export const SCHEMAS: Record<string, Schema> = {
  Secret: { 1: { name: "metadata", type: OBJECT_META }, 2: { name: "data", type: "string", map: "bytes" }, 3: { name: "type", type: "string" }, 4: { name: "stringData", type: "string", map: "string" }, 5: { name: "immutable", type: "bool" } },
  ConfigMap: { 1: { name: "metadata", type: OBJECT_META }, 2: { name: "data", type: "string", map: "string" }, 3: { name: "binaryData", type: "string", map: "bytes" }, 4: { name: "immutable", type: "bool" } },
  Namespace: { 1: { name: "metadata", type: OBJECT_META }, 2: { name: "spec", type: { 1: { name: "finalizers", type: "string", repeated: true } } } },
  ServiceAccount: {
    1: { name: "metadata", type: OBJECT_META },
    2: { name: "secrets", type: OBJECT_REFERENCE, repeated: true },
    3: { name: "imagePullSecrets", type: { 1: { name: "name", type: "string" } }, repeated: true },
    4: { name: "automountServiceAccountToken", type: "bool" },
  },
  TokenRequest: {
    1: { name: "metadata", type: OBJECT_META },
    2: {
      name: "spec",
      type: {
        1: { name: "audiences", type: "string", repeated: true },
        3: { name: "boundObjectRef", type: { 1: { name: "kind", type: "string" }, 2: { name: "apiVersion", type: "string" }, 3: { name: "name", type: "string" }, 4: { name: "uid", type: "string" } } },
        4: { name: "expirationSeconds", type: "int64" },
      },
    },
  },
  ClusterRoleBinding: BINDING,
  RoleBinding: BINDING,
  SelfSubjectReview: { 1: { name: "metadata", type: OBJECT_META } },
  SelfSubjectAccessReview: {
    1: { name: "metadata", type: OBJECT_META },
    2: {
      name: "spec",
      type: {
        1: {
          name: "resourceAttributes",
          type: { 1: { name: "namespace", type: "string" }, 2: { name: "verb", type: "string" }, 3: { name: "group", type: "string" }, 4: { name: "version", type: "string" }, 5: { name: "resource", type: "string" }, 6: { name: "subresource", type: "string" }, 7: { name: "name", type: "string" } },
        },
        2: { name: "nonResourceAttributes", type: { 1: { name: "path", type: "string" }, 2: { name: "verb", type: "string" } } },
      },
    },
  },
  CertificateSigningRequest: {
    1: { name: "metadata", type: OBJECT_META },
    2: {
      name: "spec",
      type: { 1: { name: "request", type: "bytes" }, 5: { name: "usages", type: "string", repeated: true }, 7: { name: "signerName", type: "string" }, 8: { name: "expirationSeconds", type: "int32" } },
    },
  },
};

class Reader {
  offset = 0;
  constructor(readonly bytes: Buffer) {}
  get done() {
    return this.offset >= this.bytes.length;
  }
  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.offset >= this.bytes.length) throw new Error("truncated varint");
      const byte = this.bytes[this.offset++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 70n) throw new Error("varint too long");
    }
  }
  take(length: number): Buffer {
    if (this.offset + length > this.bytes.length) throw new Error("truncated field");
    const slice = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return slice;
  }
  /** Each field as [number, wire type, value]: bigint for varints, Buffer otherwise. */
  *fields(): Generator<[number, number, bigint | Buffer]> {
    while (!this.done) {
      const tag = this.varint();
      const number = Number(tag >> 3n);
      const wire = Number(tag & 7n);
      if (wire === 0) yield [number, wire, this.varint()];
      else if (wire === 1) yield [number, wire, this.take(8)];
      else if (wire === 2) yield [number, wire, this.take(Number(this.varint()))];
      else if (wire === 5) yield [number, wire, this.take(4)];
      else throw new Error(`unsupported wire type ${wire}`);
    }
  }
}

const GO_ZERO_TIME = -62135596800;
const signed64 = (value: bigint) => Number(BigInt.asIntN(64, value));

function scalar(type: Scalar, value: bigint | Buffer): unknown {
  switch (type) {
    case "string":
      return (value as Buffer).toString("utf8");
    case "bytes":
      return (value as Buffer).toString("base64");
    case "bool":
      return (value as bigint) !== 0n;
    case "int64":
    case "int32":
      return signed64(value as bigint);
  }
}

function decodeMessage(bytes: Buffer, schema: Schema): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [number, , value] of new Reader(bytes).fields()) {
    const field = schema[number];
    if (!field) continue;
    if (field.map) {
      let key = "";
      let entry: unknown = field.map === "string" ? "" : field.map === "bytes" ? "" : undefined;
      for (const [entryNumber, , entryValue] of new Reader(value as Buffer).fields()) {
        if (entryNumber === 1) key = (entryValue as Buffer).toString("utf8");
        if (entryNumber === 2) entry = typeof field.map === "string" ? scalar(field.map, entryValue) : decodeMessage(entryValue as Buffer, field.map);
      }
      ((out[field.name] ??= {}) as Record<string, unknown>)[key] = entry;
      continue;
    }
    let decoded: unknown;
    if (field.type === "time") {
      let seconds = 0;
      for (const [timeNumber, , timeValue] of new Reader(value as Buffer).fields()) if (timeNumber === 1) seconds = signed64(timeValue as bigint);
      // Go's zero time (what an unset metav1.Time marshals to) is no time at all.
      if (seconds === GO_ZERO_TIME || seconds === 0) continue;
      decoded = new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
    } else if (typeof field.type === "string") decoded = scalar(field.type, value);
    else decoded = decodeMessage(value as Buffer, field.type);
    if (field.repeated) ((out[field.name] ??= []) as unknown[]).push(decoded);
    else out[field.name] = decoded;
  }
  return out;
}

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

/** Decodes a Kubernetes protobuf body into the object's JSON form; throws on anything it cannot read. */
export function decodeKubernetesProtobuf(body: Buffer): Record<string, unknown> {
  if (body.length < 4 || !body.subarray(0, 4).equals(MAGIC)) throw new Error("missing the k8s\\0 protobuf prefix");
  const unknown = decodeMessage(body.subarray(4), {
    1: { name: "typeMeta", type: { 1: { name: "apiVersion", type: "string" }, 2: { name: "kind", type: "string" } } },
    2: { name: "raw", type: "bytes" },
    3: { name: "contentEncoding", type: "string" },
  });
  const typeMeta = (unknown.typeMeta ?? {}) as { apiVersion?: string; kind?: string };
  if (unknown.contentEncoding) throw new Error(`unsupported content encoding ${String(unknown.contentEncoding)}`);
  const schema = SCHEMAS[typeMeta.kind ?? ""];
  if (!schema) throw new Error(`the test apiserver cannot read protobuf ${typeMeta.kind ?? "(no kind)"}`);
  return { kind: typeMeta.kind, apiVersion: typeMeta.apiVersion, ...decodeMessage(Buffer.from(String(unknown.raw ?? ""), "base64"), schema) };
}
