/**
 * `GET /metrics`: Prometheus text format, by prom-client.
 *
 * Two sources:
 *   - the gateway's own requests, counted as they finish (method, route pattern, status);
 *   - the engine's state, read once per scrape (`Engine.observe()`: catalogs and counters,
 *     nothing activated) and copied into gauges, and into counters for the engine's
 *     since-start tallies (OVERLOADED answers, cache hits and misses, evictions).
 * fsync latency is process-wide: every file sync of the storage layer reports to it.
 *
 * Names follow Prometheus' conventions: `needle_` prefix, base units in the name (seconds,
 * bytes), `_total` on counters. Labels stay bounded: the route is the pattern
 * (`/index/:index/query`), never the path; indexes are as many as the user made.
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Engine, EngineObservation } from "../../actors/api.ts";
import { onFileSync } from "../../storage/files.ts";

/** Request latency buckets, seconds: 0.5 ms to 30 s (the request timeout). */
const requestBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** fsync buckets, seconds: 50 µs (page cache on a fast SSD) to 2.5 s (a stalled disk). */
const fsyncBuckets = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 2.5,
];

/** One histogram per process (fsyncs are the process's), shared by every registry; made on first use. */
let fsyncSeconds: Histogram | undefined;
function processFsyncSeconds(): Histogram {
  if (fsyncSeconds === undefined) {
    const histogram = new Histogram({
      name: "needle_fsync_duration_seconds",
      help: "Latency of each fsync/fdatasync of a file by the storage layer (process-wide)",
      buckets: fsyncBuckets,
      registers: [],
    });
    onFileSync((seconds) => histogram.observe(seconds));
    fsyncSeconds = histogram;
  }
  return fsyncSeconds;
}

export const metricsContentType = "text/plain; version=0.0.4; charset=utf-8";

export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<"method" | "route" | "status">;
  private readonly requestSeconds: Histogram<"method" | "route" | "status">;
  private readonly gauges: Record<string, Gauge<string>> = {};
  private readonly counters: Record<string, Counter<string>> = {};

  constructor(private readonly engine: Engine) {
    const registers = [this.registry];
    this.requests = new Counter({
      name: "needle_http_requests_total",
      help: "HTTP requests answered, by method, route pattern and status",
      labelNames: ["method", "route", "status"],
      registers,
    });
    this.requestSeconds = new Histogram({
      name: "needle_http_request_duration_seconds",
      help: "HTTP request latency, from arrival to the answer, by method, route pattern and status",
      labelNames: ["method", "route", "status"],
      buckets: requestBuckets,
      registers,
    });
    this.registry.registerMetric(processFsyncSeconds());

    const gauge = (name: string, help: string, labelNames: string[]) => {
      this.gauges[name] = new Gauge({ name, help, labelNames, registers });
    };
    const counter = (name: string, help: string, labelNames: string[]) => {
      this.counters[name] = new Counter({ name, help, labelNames, registers });
    };
    gauge("needle_index_records", "Records in an index (live rows, every namespace)", ["index"]);
    gauge("needle_index_namespaces", "Namespaces of an index that exist", ["index"]);
    gauge("needle_index_namespaces_resident", "Namespaces of an index resident in memory now", ["index"]);
    gauge("needle_index_memtable_bytes", "Bytes in the memtables of an index's resident namespaces", [
      "index",
    ]);
    gauge("needle_index_slabs", "Slabs of an index per compaction level", ["index", "level"]);
    gauge("needle_index_slab_bytes", "Bytes of an index's slabs per compaction level", ["index", "level"]);
    gauge("needle_index_slab_rows", "Rows (live and dead) in an index's slabs per compaction level", [
      "index",
      "level",
    ]);
    gauge("needle_index_compaction_queued", "Namespaces of an index waiting for compaction", ["index"]);
    gauge(
      "needle_index_compaction_last_duration_seconds",
      "Duration of the last completed compaction of an index's namespace since start",
      ["index"],
    );
    gauge("needle_index_request_log_bytes", "Bytes of an index's request log files (local logs only)", [
      "index",
    ]);
    gauge("needle_actors_active", "Actors in memory now, by kind", ["kind"]);
    gauge("needle_actor_mailbox_depth", "Messages waiting or running in the mailboxes of a kind", ["kind"]);
    counter("needle_actor_overloaded_total", "Messages refused OVERLOADED (a full mailbox), by kind", [
      "kind",
    ]);
    counter("needle_actor_cache_hits_total", "Messages delivered to an actor already in memory, by kind", [
      "kind",
    ]);
    counter("needle_actor_cache_misses_total", "Actor activations, each loading state from disk, by kind", [
      "kind",
    ]);
    counter("needle_actor_evictions_total", "Actors passivated to stay under a kind's cap", ["kind"]);
    counter("needle_compactions_total", "Compactions completed since start", []);
    gauge("needle_compaction_running", "1 while a compaction runs", []);
    gauge("needle_compaction_paused", "1 while compaction is paused", []);
    gauge("needle_process_resident_memory_bytes", "Resident set size of this process", []);
    gauge(
      "needle_slabs_open",
      "Open slabs by what they hold: the mapped file (full) or the index portion (demoted)",
      ["state"],
    );
    gauge("needle_slab_memory_bytes", "Bytes the open slabs hold (mapped files and index portions)", []);
    gauge("needle_slab_memory_budget_bytes", "The executor's budget for open slabs", []);
    counter(
      "needle_slab_demotions_total",
      "Slabs demoted to their index portion to stay under the budget",
      [],
    );
    counter(
      "needle_slab_evictions_total",
      "Slabs closed because their index portions alone exceeded the budget",
      [],
    );
  }

  /** Counts one answered request (the app's outermost middleware calls this). */
  observeRequest(method: string, route: string, status: number, seconds: number): void {
    const labels = { method, route, status: String(status) };
    this.requests.inc(labels);
    this.requestSeconds.observe(labels, seconds);
  }

  /** The exposition text, with the engine's state read now. */
  async text(): Promise<string> {
    this.copy(await this.engine.observe());
    return this.registry.metrics();
  }

  private copy(observation: EngineObservation): void {
    const g = this.gauges;
    for (const metric of Object.values(g)) metric.reset();
    for (const index of observation.indexes) {
      const labels = { index: index.name };
      g.needle_index_records!.set(labels, index.records);
      g.needle_index_namespaces!.set(labels, index.namespaces);
      g.needle_index_namespaces_resident!.set(labels, index.namespacesResident);
      g.needle_index_memtable_bytes!.set(labels, index.memtableBytes);
      g.needle_index_compaction_queued!.set(labels, index.compactionQueued);
      if (index.compactionLastDurationMs !== null)
        g.needle_index_compaction_last_duration_seconds!.set(labels, index.compactionLastDurationMs / 1000);
      if (index.requestLogBytes !== null)
        g.needle_index_request_log_bytes!.set(labels, index.requestLogBytes);
      for (const level of index.levels) {
        const perLevel = { index: index.name, level: String(level.level) };
        g.needle_index_slabs!.set(perLevel, level.slabs);
        g.needle_index_slab_bytes!.set(perLevel, level.bytes);
        g.needle_index_slab_rows!.set(perLevel, level.rows);
      }
    }
    const since = (name: string, labels: Record<string, string>, value: number) => {
      const metric = this.counters[name]!;
      if (value > 0) metric.inc(labels, value);
    };
    for (const metric of Object.values(this.counters)) metric.reset();
    for (const kind of observation.actors) {
      const labels = { kind: kind.kind };
      g.needle_actors_active!.set(labels, kind.active);
      g.needle_actor_mailbox_depth!.set(labels, kind.mailboxDepth);
      since("needle_actor_overloaded_total", labels, kind.overloaded);
      since("needle_actor_cache_hits_total", labels, kind.hits);
      since("needle_actor_cache_misses_total", labels, kind.misses);
      since("needle_actor_evictions_total", labels, kind.evicted);
    }
    const compaction = observation.compaction;
    if (compaction !== null) {
      since("needle_compactions_total", {}, compaction.completed);
      g.needle_compaction_running!.set(compaction.running === null ? 0 : 1);
      g.needle_compaction_paused!.set(compaction.paused ? 1 : 0);
    }
    const slabs = observation.slabMemory;
    if (slabs !== null && slabs !== undefined) {
      g.needle_slabs_open!.set({ state: "full" }, slabs.openSlabs - slabs.demotedSlabs);
      g.needle_slabs_open!.set({ state: "demoted" }, slabs.demotedSlabs);
      g.needle_slab_memory_bytes!.set(slabs.openBytes);
      g.needle_slab_memory_budget_bytes!.set(slabs.budgetBytes);
      since("needle_slab_demotions_total", {}, slabs.demotions);
      since("needle_slab_evictions_total", {}, slabs.evictions);
    }
    g.needle_process_resident_memory_bytes!.set(process.memoryUsage.rss());
  }
}
