/**
 * The web console (browser code, bundled by Bun when the server first serves /console).
 * Plain DOM, no framework: a handful of views over the same REST API the clients use.
 *
 *   #/                      indexes with their models and counts
 *   #/index/<name>          its namespaces (paged, searchable by prefix), a namespace's slabs
 *                           by level, compaction, and the query playground
 *   #/compaction            the compactor's state
 *
 * The API key is asked once and kept in sessionStorage (this tab only, gone when it closes).
 * The header shows live request rate and mean latency, computed from /metrics every 2 s.
 */

type Json = Record<string, unknown>;

const keyStorage = "needle-api-key";
const view = document.getElementById("view") as HTMLElement;

class ApiError extends Error {}

async function api(
  path: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
) {
  const response = await fetch(path, {
    method: init.method ?? "GET",
    headers: {
      "Api-Key": sessionStorage.getItem(keyStorage) ?? "",
      "Content-Type": "application/json",
      "X-Pinecone-Api-Version": "2026-04",
      ...init.headers,
    },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await response.text();
  if (response.status === 401) {
    sessionStorage.removeItem(keyStorage);
    askForKey("That key was refused.");
    throw new ApiError("unauthenticated");
  }
  const body = text === "" ? {} : JSON.parse(text);
  if (!response.ok) {
    const error =
      (body as { error?: { message?: string }; message?: string }).error?.message ?? (body as Json).message;
    throw new ApiError(`${response.status}: ${String(error ?? text)}`);
  }
  return body as Json;
}

/** Builds an element: `h("td", {class: "num"}, "12")`. Text is always set as text, never HTML. */
function h(
  tag: string,
  attributes: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElement {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  for (const child of children) element.append(child);
  return element;
}

function table(headers: string[], rows: (string | number)[][], numeric: number[] = []): HTMLElement {
  const head = h(
    "tr",
    {},
    ...headers.map((text, i) => h("th", numeric.includes(i) ? { class: "num" } : {}, text)),
  );
  const body = rows.map((row) =>
    h("tr", {}, ...row.map((cell, i) => h("td", numeric.includes(i) ? { class: "num" } : {}, String(cell)))),
  );
  return h("div", { class: "table-wrap" }, h("table", {}, h("thead", {}, head), h("tbody", {}, ...body)));
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

function showError(where: HTMLElement, error: unknown): void {
  if (error instanceof ApiError && error.message === "unauthenticated") return;
  where.append(
    h("p", { class: "error", role: "alert" }, error instanceof Error ? error.message : String(error)),
  );
}

// ---------------------------------------------------------------------------- the key

function askForKey(reason = ""): void {
  (document.getElementById("sign-out") as HTMLElement).hidden = true;
  const input = h("input", { type: "password", id: "api-key", autocomplete: "off" }) as HTMLInputElement;
  const form = h(
    "form",
    { id: "key-form" },
    h("h1", {}, "Connect"),
    h(
      "p",
      { class: "muted" },
      "The API key is kept in this tab only (sessionStorage) and sent with each request.",
    ),
    reason ? h("p", { class: "error" }, reason) : "",
    h("label", { for: "api-key" }, "API key"),
    input,
    h("button", { type: "submit" }, "Connect"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(keyStorage, input.value);
    void route();
  });
  view.replaceChildren(h("section", { class: "card" }, form));
  input.focus();
}

// ---------------------------------------------------------------------------- indexes

async function indexesView(): Promise<void> {
  const card = h("section", { class: "card" }, h("h1", {}, "Indexes"));
  view.replaceChildren(card);
  try {
    const { indexes } = (await api("/indexes")) as { indexes: Json[] };
    const rows = await Promise.all(
      indexes.map(async (index) => {
        const stats = await api(`/index/${index.name}/describe_index_stats`, { method: "POST", body: {} });
        const namespaces = Object.keys((stats.namespaces as Json | undefined) ?? {}).length;
        return [
          String(index.name),
          String(index.vector_type ?? "dense"),
          String(index.dimension ?? "–"),
          String(index.metric),
          Number(stats.totalVectorCount ?? 0),
          namespaces,
        ];
      }),
    );
    const list = table(["name", "type", "dimension", "metric", "records", "namespaces"], rows, [2, 4, 5]);
    list.querySelectorAll("tbody tr").forEach((row, i) => {
      row.classList.add("clickable");
      row.setAttribute("data-index", String(rows[i]![0]));
      row.addEventListener("click", () => {
        location.hash = `#/index/${rows[i]![0]}`;
      });
    });
    card.append(rows.length === 0 ? h("p", { class: "muted" }, "No indexes yet.") : list);
  } catch (error) {
    showError(card, error);
  }
}

// ---------------------------------------------------------------------------- one index

async function indexView(name: string): Promise<void> {
  const title = h("h1", {}, `Index ${name}`);
  const model = h("p", { class: "muted", id: "index-model" });
  const namespacesCard = h("section", { class: "card", id: "namespaces" }, h("h2", {}, "Namespaces"));
  const slabsCard = h(
    "section",
    { class: "card", id: "slabs" },
    h("h2", {}, "Slabs"),
    h("p", { class: "muted" }, "Pick a namespace."),
  );
  const compactionCard = h("section", { class: "card", id: "compaction" });
  const playground = playgroundCard(name);
  view.replaceChildren(title, model, namespacesCard, slabsCard, playground, compactionCard);
  try {
    const index = await api(`/indexes/${name}`);
    model.textContent = `${index.vector_type ?? "dense"} · ${index.dimension ?? "sparse"} dimensions · ${index.metric} · deletion protection ${index.deletion_protection}`;
  } catch (error) {
    showError(model, error);
  }
  void namespacesPanel(name, namespacesCard, slabsCard, playground);
  void compactionPanel(compactionCard, name);
}

async function namespacesPanel(
  index: string,
  card: HTMLElement,
  slabsCard: HTMLElement,
  playground: HTMLElement,
): Promise<void> {
  const search = h("input", {
    type: "text",
    id: "namespace-prefix",
    placeholder: "prefix",
  }) as HTMLInputElement;
  const listing = h("div");
  const more = h("button", { type: "button", class: "secondary", id: "namespaces-next" }, "Next page");
  card.append(h("label", { for: "namespace-prefix" }, "Search by prefix"), search, listing, more);
  let token: string | undefined;
  const load = async (reset: boolean) => {
    if (reset) token = undefined;
    const query = new URLSearchParams({ limit: "20" });
    if (search.value !== "") query.set("prefix", search.value);
    if (token !== undefined) query.set("paginationToken", token);
    try {
      const page = (await api(`/index/${index}/namespaces?${query}`)) as {
        namespaces: { name: string; record_count: string }[];
        total_count: number;
        pagination?: { next: string };
      };
      token = page.pagination?.next;
      more.hidden = token === undefined;
      const rows = page.namespaces.map((ns) => [ns.name, Number(ns.record_count)]);
      const list = table(["namespace", "records"], rows, [1]);
      list.querySelectorAll("tbody tr").forEach((row, i) => {
        row.classList.add("clickable");
        row.addEventListener("click", () => {
          for (const other of list.querySelectorAll("tr.selected")) other.classList.remove("selected");
          row.classList.add("selected");
          const namespace = page.namespaces[i]!.name;
          (playground.querySelector("#query-namespace") as HTMLInputElement).value = namespace;
          void slabsPanel(index, namespace, slabsCard);
        });
      });
      listing.replaceChildren(h("p", { class: "muted" }, `${page.total_count} namespaces match`), list);
    } catch (error) {
      listing.replaceChildren();
      showError(listing, error);
    }
  };
  let debounce: ReturnType<typeof setTimeout> | undefined;
  search.addEventListener("input", () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => void load(true), 200);
  });
  more.addEventListener("click", () => void load(false));
  await load(true);
}

async function slabsPanel(index: string, namespace: string, card: HTMLElement): Promise<void> {
  card.replaceChildren(h("h2", {}, `Slabs of ${namespace}`));
  try {
    const { slabs } = (await api(
      `/needle/indexes/${index}/namespaces/${encodeURIComponent(namespace)}/slabs`,
    )) as { slabs: Json[] };
    if (slabs.length === 0) {
      card.append(h("p", { class: "muted" }, "No slabs yet: the rows are in the memtable."));
      return;
    }
    const sorted = [...slabs].sort((a, b) => Number(a.level) - Number(b.level));
    card.append(
      table(
        ["level", "slab", "rows", "dead rows", "bytes", "index"],
        sorted.map((slab) => [
          Number(slab.level),
          String(slab.id).slice(-12),
          Number(slab.rows),
          Number(slab.deadRows),
          bytes(Number(slab.bytes)),
          slab.packed
            ? "flat (packed)"
            : slab.index === "ivf"
              ? `IVF, ${slab.partitions} partitions`
              : "flat",
        ]),
        [0, 2, 3, 4],
      ),
    );
  } catch (error) {
    showError(card, error);
  }
}

async function compactionPanel(card: HTMLElement, index?: string): Promise<void> {
  card.replaceChildren(h("h2", {}, "Compaction"));
  try {
    const status = await api("/needle/compaction");
    const queued = (status.queued as string[]).filter(
      (key) => index === undefined || key.startsWith(`${index}/`),
    );
    const error = status.lastError as { namespace: string; message: string; at: string } | null;
    card.append(
      table(
        ["state", "running", "queued", "completed", "last duration"],
        [
          [
            status.paused ? "paused" : "active",
            String(status.running ?? "–"),
            queued.length,
            Number(status.completed),
            status.lastDurationMs === null ? "–" : `${status.lastDurationMs} ms`,
          ],
        ],
        [2, 3],
      ),
      error
        ? h("p", { class: "error" }, `last error in ${error.namespace} at ${error.at}: ${error.message}`)
        : "",
    );
  } catch (caught) {
    showError(card, caught);
  }
}

// ---------------------------------------------------------------------------- playground

function playgroundCard(index: string): HTMLElement {
  const field = (id: string, label: string, input: HTMLElement) =>
    h("div", {}, h("label", { for: id }, label), input);
  const namespace = h("input", { type: "text", id: "query-namespace", value: "" });
  const mode = h(
    "select",
    { id: "query-mode" },
    h("option", { value: "vector" }, "by vector"),
    h("option", { value: "id" }, "by id"),
  ) as HTMLSelectElement;
  const vector = h("textarea", { id: "query-vector", placeholder: "[0.1, 0.2, ...]" }) as HTMLTextAreaElement;
  const id = h("input", { type: "text", id: "query-id", placeholder: "record id" }) as HTMLInputElement;
  const topK = h("input", {
    type: "number",
    id: "query-topk",
    value: "10",
    min: "1",
    max: "10000",
  }) as HTMLInputElement;
  const filter = h("textarea", {
    id: "query-filter",
    placeholder: '{"genre": {"$eq": "drama"}}',
  }) as HTMLTextAreaElement;
  const run = h("button", { type: "submit", id: "query-run" }, "Run query");
  const results = h("div", { id: "query-results" });
  const form = h(
    "form",
    { id: "playground-form" },
    h(
      "div",
      { class: "row" },
      field("query-namespace", "Namespace", namespace),
      field("query-mode", "Search", mode),
      field("query-topk", "topK", topK),
    ),
    field("query-vector", "Vector (JSON array)", vector),
    field("query-id", "Id", id),
    field("query-filter", "Metadata filter (JSON, optional)", filter),
    run,
  );
  const sync = () => {
    (vector.parentElement as HTMLElement).hidden = mode.value !== "vector";
    (id.parentElement as HTMLElement).hidden = mode.value !== "id";
  };
  mode.addEventListener("change", sync);
  sync();
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void (async () => {
      results.replaceChildren(h("p", { class: "muted" }, "Running…"));
      try {
        const body: Json = {
          namespace: (namespace as HTMLInputElement).value,
          topK: Number(topK.value),
          includeMetadata: true,
        };
        if (mode.value === "vector") body.vector = JSON.parse(vector.value);
        else body.id = id.value;
        if (filter.value.trim() !== "") body.filter = JSON.parse(filter.value);
        const started = performance.now();
        const answer = await api(`/index/${index}/query`, {
          method: "POST",
          body,
          headers: { "X-Needle-Explain": "1" },
        });
        const ms = performance.now() - started;
        const matches = answer.matches as { id: string; score: number; metadata?: Json }[];
        const list = table(
          ["#", "id", "score", "metadata"],
          matches.map((match, i) => [
            i + 1,
            match.id,
            match.score.toFixed(6),
            JSON.stringify(match.metadata ?? {}),
          ]),
          [0, 2],
        );
        list.querySelector("table")?.setAttribute("id", "query-matches");
        results.replaceChildren(
          h("p", { class: "muted", id: "query-summary" }, `${matches.length} matches in ${ms.toFixed(1)} ms`),
          list,
          h("h2", {}, "Explain"),
          h("pre", { id: "query-explain" }, JSON.stringify(answer.explain ?? null, null, 2)),
        );
      } catch (error) {
        results.replaceChildren();
        showError(results, error instanceof SyntaxError ? new Error(`not JSON: ${error.message}`) : error);
      }
    })();
  });
  return h("section", { class: "card", id: "playground" }, h("h2", {}, "Query playground"), form, results);
}

// ---------------------------------------------------------------------------- live rate

const history: number[] = [];
let previous: { requests: number; seconds: number; count: number; at: number } | undefined;

/** Sums a metric's samples, leaving out the console's own /metrics polling. */
function sum(text: string, name: string): number {
  let total = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name) || line.includes('route="/metrics"')) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== "{" && rest[0] !== " ") continue;
    total += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return total;
}

async function pollMetrics(): Promise<void> {
  if (sessionStorage.getItem(keyStorage) === null) return;
  try {
    const response = await fetch("/metrics", {
      headers: { "Api-Key": sessionStorage.getItem(keyStorage) ?? "" },
    });
    if (!response.ok) return;
    const text = await response.text();
    const now = {
      requests: sum(text, "needle_http_requests_total"),
      seconds: sum(text, "needle_http_request_duration_seconds_sum"),
      count: sum(text, "needle_http_request_duration_seconds_count"),
      at: performance.now(),
    };
    if (previous !== undefined) {
      const elapsed = (now.at - previous.at) / 1000;
      const rate = (now.requests - previous.requests) / elapsed;
      const answered = now.count - previous.count;
      const latency = answered > 0 ? ((now.seconds - previous.seconds) / answered) * 1000 : 0;
      (document.getElementById("live-rate") as HTMLElement).textContent = rate.toFixed(1);
      (document.getElementById("live-latency") as HTMLElement).textContent =
        answered > 0 ? latency.toFixed(1) : "–";
      history.push(rate);
      if (history.length > 30) history.shift();
      drawChart();
    }
    previous = now;
  } catch {
    // the server may be restarting: try again at the next tick
  }
}

function drawChart(): void {
  const chart = document.getElementById("live-chart") as unknown as SVGSVGElement;
  const top = Math.max(1, ...history);
  const points = history.map((value, i) => `${(i / 29) * 120},${24 - (value / top) * 22}`).join(" ");
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  line.setAttribute("points", points);
  chart.replaceChildren(line);
}

// ---------------------------------------------------------------------------- routing

async function route(): Promise<void> {
  if (sessionStorage.getItem(keyStorage) === null) return askForKey();
  (document.getElementById("sign-out") as HTMLElement).hidden = false;
  const hash = location.hash.replace(/^#/, "") || "/";
  const indexMatch = /^\/index\/([a-z0-9-]+)$/.exec(hash);
  if (indexMatch) return indexView(indexMatch[1]!);
  if (hash === "/compaction") {
    const card = h("section", { class: "card" });
    view.replaceChildren(card);
    return compactionPanel(card);
  }
  return indexesView();
}

document.getElementById("sign-out")?.addEventListener("click", () => {
  sessionStorage.removeItem(keyStorage);
  askForKey();
});
window.addEventListener("hashchange", () => void route());
setInterval(() => void pollMetrics(), 2000);
void route();
void pollMetrics();
export {};
