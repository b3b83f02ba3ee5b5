/**
 * One process's part in a cluster (cluster v1, actors/distribution/DESIGN.md): joins the
 * membership with its roles and starts what they need. `gateway`: a ClusterEngine the front
 * doors (HTTP, NATS API) serve. `namespace` (and `executor`: in v1 an index's owner executes
 * its queries, so the two are one role): an IndexOwner over `dir`. `executor`: read replicas
 * (IndexReplicas). `compactor`: builds compaction outputs for the owners
 * (remote-compaction.ts); an owner builds its own while no compactor is a member.
 */
import { hostname } from "node:os";
import { join } from "node:path";
import { type NatsConnection, nanos } from "nats";
import { NeedleError } from "../../storage/errors.ts";
import type { Engine, EngineOptions } from "../api.ts";
import { Checkpoints } from "./checkpoints.ts";
import { ClusterCatalog } from "./cluster-catalog.ts";
import { startOrphanSweeps } from "./orphans.ts";
import { ClusterEngine, type ClusterEngineOptions } from "./cluster-engine.ts";
import { IndexOwner } from "./index-owner.ts";
import { IndexReplicas } from "./index-replicas.ts";
import { Membership, type Role, roles as allRoles } from "./membership.ts";
import {
  type CompactorStats,
  type RemoteCompactionStats,
  type RemoteCompactionTimings,
  compactionFilesTtlMs,
  remoteCompactionBuilder,
  serveCompactions,
} from "./remote-compaction.ts";
import { NatsObjectBlobStore } from "../../storage/blob/nats-object-store.ts";
import { compactionFilesBucket } from "../../storage/nats/names.ts";

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
  /** Tests: how long an owner waits for a compactor to take a job, and checks it is alive. */
  compactionTimings?: RemoteCompactionTimings;
  log?: (line: string) => void;
}

export interface ClusterHost {
  readonly name: string;
  /** The gateway's engine (gateway role), for the front doors. */
  readonly engine: Engine | undefined;
  readonly owner: IndexOwner | undefined;
  /** This host's compactions: as an owner (built by compactors or here), as a compactor (served). */
  readonly compactions: { built?: RemoteCompactionStats; served?: CompactorStats };
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
    } else if ((allRoles as readonly string[]).includes(role)) {
      out.add(role as Role);
    } else {
      throw new NeedleError(
        "INVALID_ARGUMENT",
        `--role must be gateway, namespace, executor, compactor or all, got ${JSON.stringify(role)}`,
        {
          field: "role",
          limit: "gateway, namespace, executor, compactor, all",
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
  const roles = options.roles;
  const compactionFiles =
    roles.includes("namespace") || roles.includes("compactor")
      ? new NatsObjectBlobStore(
          await options.connection.jetstream().views.os(compactionFilesBucket, {
            replicas: options.replicas ?? 1,
            ttl: nanos(compactionFilesTtlMs),
          }),
          join(options.dir, ".compaction-cache"),
        )
      : undefined;
  const remoteCompaction = roles.includes("namespace")
    ? remoteCompactionBuilder({
        connection: options.connection,
        files: compactionFiles!,
        membership,
        timings: options.compactionTimings,
        log: options.log,
      })
    : undefined;
  const compactor = roles.includes("compactor")
    ? serveCompactions({
        connection: options.connection,
        files: compactionFiles!,
        name,
        dir: options.dir,
        log: options.log,
      })
    : undefined;
  const owner = options.roles.includes("namespace")
    ? await IndexOwner.start({
        connection: options.connection,
        membership,
        catalog,
        dir: join(options.dir, "owner"),
        replicas: options.replicas,
        checkpoints,
        checkpointEveryRecords: options.checkpointEveryRecords,
        engine: { ...options.engine, compactionBuilder: remoteCompaction!.build },
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
    compactions: { built: remoteCompaction?.stats, served: compactor?.stats },
    close: async () => {
      await sweeps?.stop();
      await replicas?.close();
      await owner?.close();
      await compactor?.stop();
      await membership.leave();
    },
  };
}
