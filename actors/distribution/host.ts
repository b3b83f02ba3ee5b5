/**
 * One process's part in a cluster (cluster v1, actors/distribution/DESIGN.md): joins the
 * membership with its roles and starts what they need. `gateway`: a ClusterEngine the front
 * doors (HTTP, NATS API) serve. `namespace` (and `executor`: in v1 an index's owner executes
 * its queries, so the two are one role): an IndexOwner over `dir`. `compactor` is refused
 * until slabs live in the Object Store (step 7): in v1 compaction runs inside each owner.
 */
import { hostname } from "node:os";
import { join } from "node:path";
import type { NatsConnection } from "nats";
import { NeedleError } from "../../storage/errors.ts";
import type { Engine, EngineOptions } from "../api.ts";
import { Checkpoints } from "./checkpoints.ts";
import { ClusterCatalog } from "./cluster-catalog.ts";
import { startOrphanSweeps } from "./orphans.ts";
import { ClusterEngine, type ClusterEngineOptions } from "./cluster-engine.ts";
import { IndexOwner } from "./index-owner.ts";
import { IndexReplicas } from "./index-replicas.ts";
import { Membership, type Role, roles as allRoles } from "./membership.ts";

export interface ClusterHostOptions {
  connection: NatsConnection;
  roles: Role[];
  /** The member name (placement ranks by it; default `<hostname>-<pid>`). */
  name?: string;
  /** The working directory: the owner's engine in `owner/`, the replicas' in `replicas/`. */
  dir: string;
  /** Replicas of the log streams and the KV buckets this host creates: 1 or 3. */
  replicas?: number;
  engine?: Partial<EngineOptions>;
  /** The owner's checkpoint interval in stream records (default 50,000). */
  checkpointEveryRecords?: number;
  gateway?: ClusterEngineOptions;
  log?: (line: string) => void;
}

export interface ClusterHost {
  readonly name: string;
  /** The gateway's engine (gateway role), for the front doors. */
  readonly engine: Engine | undefined;
  readonly owner: IndexOwner | undefined;
  /** Hands owned indexes back, leaves the membership. The connection stays the caller's. */
  close(): Promise<void>;
}

/** Parses `--role` values (comma-separated, repeatable, `all`); refuses what v1 cannot do. */
export function parseRoles(values: readonly string[]): Role[] {
  const out = new Set<Role>();
  for (const value of values.flatMap((text) => text.split(","))) {
    const role = value.trim();
    if (role === "all") {
      out.add("gateway").add("namespace").add("executor");
    } else if (role === "compactor") {
      throw new NeedleError(
        "INVALID_ARGUMENT",
        "--role compactor: in cluster v1 compaction runs inside each index's owner (namespace role); a separate compactor comes with slabs in the Object Store",
        { field: "role", received: role },
      );
    } else if ((allRoles as readonly string[]).includes(role)) {
      out.add(role as Role);
    } else {
      throw new NeedleError(
        "INVALID_ARGUMENT",
        `--role must be gateway, namespace, executor or all, got ${JSON.stringify(role)}`,
        {
          field: "role",
          limit: "gateway, namespace, executor, all",
          received: role,
        },
      );
    }
  }
  return [...out].sort();
}

export async function startClusterHost(options: ClusterHostOptions): Promise<ClusterHost> {
  const name = options.name ?? `${hostname()}-${process.pid}`;
  const membership = await Membership.open(options.connection, {
    name,
    roles: options.roles,
    pid: process.pid,
  });
  const catalog = await ClusterCatalog.open(options.connection, { replicas: options.replicas });
  const checkpoints = await Checkpoints.open(options.connection, {
    replicas: options.replicas,
    cacheDir: options.dir,
  });
  const owner = options.roles.includes("namespace")
    ? await IndexOwner.start({
        connection: options.connection,
        membership,
        catalog,
        dir: join(options.dir, "owner"),
        replicas: options.replicas,
        checkpoints,
        checkpointEveryRecords: options.checkpointEveryRecords,
        engine: options.engine,
        log: options.log,
      })
    : undefined;
  const replicas = options.roles.includes("executor")
    ? await IndexReplicas.start({
        connection: options.connection,
        membership,
        catalog,
        checkpoints,
        dir: join(options.dir, "replicas"),
        engine: options.engine,
        log: options.log,
      })
    : undefined;
  const sweeps = options.roles.includes("namespace")
    ? startOrphanSweeps(options.connection, catalog, checkpoints, { log: options.log })
    : undefined;
  const engine = options.roles.includes("gateway")
    ? new ClusterEngine(options.connection, catalog, options.gateway)
    : undefined;
  return {
    name,
    engine,
    owner,
    close: async () => {
      await sweeps?.stop();
      await replicas?.close();
      await owner?.close();
      await membership.leave();
    },
  };
}
