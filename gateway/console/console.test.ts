/**
 * The console in a real browser: headless Chromium (Debian's `chromium`, driven by
 * playwright-core) against the real server with an API key. An index made through the API is
 * listed; its namespaces and a namespace's slabs show; a filtered query in the playground
 * gives, on the page, the matches the REST API gives; a wrong key is refused. Screenshots go
 * to bench-results/console/ (desktop and a narrow window).
 *
 * Needs Chromium: CI installs it (.ci/run). Where it is missing (a machine with only Node.js,
 * npm and a C compiler, as the README's two commands assume) the test is skipped, saying so.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { type Browser, chromium } from "playwright-core";
import { makeDataDir, type RunningServer, startServer } from "../http/testing.ts";

const executable = [process.env.NEEDLE_CHROMIUM, "/usr/bin/chromium", "/usr/bin/chromium-browser"].find(
  (path): path is string => path !== undefined && existsSync(path),
);
if (executable === undefined)
  console.warn("console.test.ts: skipped: no Chromium (apt-get install chromium, or set NEEDLE_CHROMIUM)");

const key = "console-test-key";
const shots = resolve(import.meta.dir, "..", "..", "bench-results", "console");
let server: RunningServer;
let data: ReturnType<typeof makeDataDir>;
let browser: Browser;

const genres = ["drama", "comedy", "horror"];
const records = 1300;
const vectorOf = (i: number) => [Math.sin(i), Math.cos(i * 0.7), Math.sin(i * 0.3) + 1, (i % 5) / 5];

async function rest(path: string, body?: unknown) {
  const response = await fetch(`${server.url}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { "Api-Key": key, "Content-Type": "application/json", "X-Pinecone-Api-Version": "2026-04" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  expect(response.ok).toBe(true);
  return (await response.json()) as Record<string, unknown>;
}

beforeAll(async () => {
  if (executable === undefined) return;
  data = makeDataDir("console");
  server = await startServer(data.dir, ["--api-key", key, "--flush-rows-max", "400"]);
  await rest("/indexes", {
    name: "movies",
    dimension: 4,
    metric: "cosine",
    spec: { serverless: { cloud: "aws", region: "us-east-1" } },
  });
  // Batches of 400 with a flush every 400 rows: past 1,000 rows (packedRowsMaxDefault) the
  // namespace has slabs of its own; 100 rows stay in the memtable.
  for (let from = 0; from < records; from += 400) {
    await rest("/index/movies/vectors/upsert", {
      vectors: Array.from({ length: Math.min(400, records - from) }, (_, j) => ({
        id: `movie-${from + j}`,
        values: vectorOf(from + j),
        metadata: { genre: genres[(from + j) % 3]!, year: 1950 + from + j },
      })),
    });
  }
  for (let waited = 0; ; waited += 20) {
    const { slabs } = (await rest("/needle/indexes/movies/namespaces/__default__/slabs")) as {
      slabs: unknown[];
    };
    if (slabs.length >= 2) break;
    expect(waited).toBeLessThan(20_000);
    await Bun.sleep(20);
  }
  await rest("/index/movies/vectors/upsert", {
    namespace: "archive",
    vectors: [{ id: "old-1", values: [1, 0, 0, 0], metadata: { genre: "drama" } }],
  });
  browser = await chromium.launch({
    executablePath: executable,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
  mkdirSync(shots, { recursive: true });
}, 60_000);

afterAll(async () => {
  if (executable === undefined) return;
  await browser?.close();
  await server.stop();
  data.remove();
});

test.skipIf(executable === undefined)(
  "the console lists the index, shows namespaces and slabs, and runs a filtered query",
  async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${server.url}/console`);
    await page.fill("#api-key", key);
    await page.click("#key-form button[type=submit]");
    const row = page.locator('tr[data-index="movies"]');
    await row.waitFor();
    expect(await row.locator("td").allTextContents()).toEqual([
      "movies",
      "dense",
      "4",
      "cosine",
      String(records + 1),
      "2",
    ]);

    await row.click();
    await page.waitForSelector("#namespaces tbody tr");
    const namespaces = await page.locator("#namespaces tbody tr td:first-child").allTextContents();
    expect(namespaces.sort()).toEqual(["__default__", "archive"]);
    await page.fill("#namespace-prefix", "arch");
    await page.waitForFunction('document.querySelectorAll("#namespaces tbody tr").length === 1');
    await page.fill("#namespace-prefix", "");
    await page.waitForFunction('document.querySelectorAll("#namespaces tbody tr").length === 2');
    await page.locator("#namespaces tbody tr", { hasText: "__default__" }).click();
    await page.waitForSelector("#slabs tbody tr");
    const slabRows = await page.locator("#slabs tbody tr").count();
    const { slabs } = (await rest("/needle/indexes/movies/namespaces/__default__/slabs")) as {
      slabs: unknown[];
    };
    expect(slabRows).toBe(slabs.length);
    expect(slabRows).toBeGreaterThanOrEqual(2);
    expect(await page.locator("#slabs tbody tr").first().locator("td").first().textContent()).toBe("0");

    const query = vectorOf(7);
    const filter = { genre: { $eq: "drama" } };
    await page.fill("#query-vector", JSON.stringify(query));
    await page.fill("#query-filter", JSON.stringify(filter));
    await page.fill("#query-topk", "5");
    await page.click("#query-run");
    await page.waitForSelector("#query-matches tbody tr");
    const shown: string[][] = [];
    for (const tr of await page.locator("#query-matches tbody tr").all())
      shown.push(await tr.locator("td").allTextContents());
    const expected = (await rest("/index/movies/query", {
      namespace: "__default__",
      vector: query,
      topK: 5,
      filter,
      includeMetadata: true,
    })) as { matches: { id: string; score: number; metadata: { genre: string } }[] };
    expect(shown.map((cells) => cells[1])).toEqual(expected.matches.map((match) => match.id));
    expect(shown.map((cells) => Number(cells[2]))).toEqual(
      expected.matches.map((match) => Number(match.score.toFixed(6))),
    );
    for (const cells of shown) expect(JSON.parse(cells[3]!).genre).toBe("drama");
    expect(await page.locator("#query-explain").textContent()).toContain('"sources"');
    // Some traffic, and two samples of /metrics by the live panel, so the header shows a rate.
    for (let i = 0; i < 30; i++) {
      await rest("/index/movies/query", { vector: vectorOf(i), topK: 3 });
      await Bun.sleep(50);
    }
    await page.waitForFunction('document.getElementById("live-rate").textContent !== "–"', undefined, {
      timeout: 10_000,
    });
    await page.screenshot({ path: join(shots, "desktop.png"), fullPage: true });

    await page.setViewportSize({ width: 390, height: 844 });
    await page.evaluate("window.scrollTo(0, 0)");
    await page.screenshot({ path: join(shots, "narrow.png"), fullPage: false });
    await page.close();
  },
  60_000,
);

test.skipIf(executable === undefined)(
  "a wrong key is refused and asked for again; the key stays in the tab",
  async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${server.url}/console`);
    await page.fill("#api-key", "wrong");
    await page.click("#key-form button[type=submit]");
    await page.waitForSelector("#key-form .error");
    expect(await page.locator("#key-form .error").textContent()).toBe("That key was refused.");
    expect(await page.evaluate('sessionStorage.getItem("needle-api-key")')).toBeNull();
    expect(await page.evaluate("localStorage.length")).toBe(0);
    await context.close();
  },
  30_000,
);
