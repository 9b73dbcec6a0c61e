import { randomUUID } from "node:crypto";
import { apiVersionOf, resourceByName, type KubeObject } from "./resources.js";

/** RFC 3339 in UTC without fractions, as metav1.Time marshals. */
export const rfc3339 = (date: Date): string => date.toISOString().replace(/\.\d{3}Z$/, "Z");

/**
 * The fake's etcd: objects keyed by resource, namespace and name, each with
 * kind, apiVersion, uid, resourceVersion and creationTimestamp filled, and one
 * resourceVersion counter for the whole store. Reads hand out the live
 * objects, so a test can change one in place (say, set
 * metadata.deletionTimestamp); the HTTP layer copies before it serializes.
 */
export class ObjectStore {
  private readonly objects = new Map<string, KubeObject>();
  private revision = 1000;

  constructor(private readonly now: () => Date) {}

  private key(resource: string, namespace: string | undefined, name: string): string {
    return `${resource}\u0000${namespace ?? ""}\u0000${name}`;
  }

  /** The current resourceVersion of the whole store (a list's metadata.resourceVersion). */
  get resourceVersion(): string {
    return String(this.revision);
  }

  get(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.objects.get(this.key(resource, namespace, name));
  }

  /** Objects of a resource, in one namespace or (undefined) all, sorted by namespace then name as etcd keys are. */
  list(resource: string, namespace?: string): KubeObject[] {
    const prefix = `${resource}\u0000`;
    const result: KubeObject[] = [];
    for (const [key, object] of this.objects) {
      if (!key.startsWith(prefix)) continue;
      if (namespace !== undefined && (object.metadata.namespace ?? "") !== namespace) continue;
      result.push(object);
    }
    return result.sort((a, b) => {
      const left = `${a.metadata.namespace ?? ""}/${a.metadata.name}`;
      const right = `${b.metadata.namespace ?? ""}/${b.metadata.name}`;
      return left < right ? -1 : left > right ? 1 : 0;
    });
  }

  /**
   * Stores an object as given, filling what the apiserver fills (kind,
   * apiVersion, uid, resourceVersion, creationTimestamp) and replacing any
   * object of the same name. For tests that need an object the API would not
   * make (a bootstrap Secret of the wrong type, one being deleted, a Node).
   */
  put(resource: string, object: KubeObject): KubeObject {
    const type = resourceByName(resource);
    const name = object.metadata.name;
    if (!name) throw new Error("put: metadata.name is required");
    if (type.namespaced && !object.metadata.namespace) throw new Error(`put: ${resource} are namespaced; give metadata.namespace`);
    const stored: KubeObject = {
      ...object,
      kind: type.kind,
      apiVersion: apiVersionOf(type),
      metadata: {
        ...object.metadata,
        uid: object.metadata.uid ?? randomUUID(),
        resourceVersion: this.bump(),
        creationTimestamp: object.metadata.creationTimestamp ?? rfc3339(this.now()),
      },
    };
    if (!type.namespaced) delete stored.metadata.namespace;
    this.objects.set(this.key(resource, stored.metadata.namespace, name), stored);
    return stored;
  }

  /** Replaces a stored object's content, keeping uid and creationTimestamp, with a new resourceVersion. */
  update(resource: string, object: KubeObject): KubeObject {
    const current = this.get(resource, object.metadata.namespace, object.metadata.name!);
    if (!current) throw new Error(`update: no ${resource} ${object.metadata.name}`);
    return this.put(resource, { ...object, metadata: { ...object.metadata, uid: current.metadata.uid, creationTimestamp: current.metadata.creationTimestamp } });
  }

  delete(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const key = this.key(resource, namespace, name);
    const object = this.objects.get(key);
    if (object) {
      this.objects.delete(key);
      this.bump();
    }
    return object;
  }

  private bump(): string {
    this.revision += 1;
    return String(this.revision);
  }
}
