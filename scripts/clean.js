// Removes dist/ before a build, so chunks of an old bundle never linger.
import { rmSync } from "node:fs";

rmSync(new URL("../dist", import.meta.url), { recursive: true, force: true });
