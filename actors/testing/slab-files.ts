/**
 * What a test needs to tell orphans from missing files: the slab files of an index on disk and
 * the slab ids its namespaces' newest manifests name (read directly, not through the engine).
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { ManifestStore } from "../../storage/manifest/mod.ts";
import { namespacesDir } from "../layout.ts";
import type { NamespaceManifest } from "../namespace/manifest.ts";

export async function slabFilesAndReferences(
  dataDir: string,
  index: string,
): Promise<{ files: string[]; referenced: string[] }> {
  const slabDir = join(dataDir, "indexes", index, "slabs");
  const files = existsSync(slabDir)
    ? readdirSync(slabDir)
        .filter((name) => name.endsWith(".slab"))
        .map((name) => name.slice(0, -".slab".length))
    : [];
  const referenced: string[] = [];
  const namespaces = namespacesDir(dataDir, index);
  for (const name of existsSync(namespaces) ? readdirSync(namespaces) : []) {
    const loaded = await new ManifestStore<NamespaceManifest>(join(namespaces, name), "manifest").load();
    for (const slab of loaded?.body.slabs ?? []) referenced.push(slab.id);
  }
  return { files: files.sort(), referenced: referenced.sort() };
}
