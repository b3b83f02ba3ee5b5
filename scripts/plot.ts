/**
 * Recall against queries per second as an SVG (Vega-Lite, rendered headless: no browser, no
 * network), one line per system, QPS on a log scale: the benchmarks' plots in bench-results/.
 */
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";

export interface PlotPoint {
  system: string;
  recall: number;
  qps: number;
}

export async function recallQpsSvg(title: string, points: PlotPoint[]): Promise<string> {
  return render(
    lineChart(title, points, {
      x: { field: "recall", type: "quantitative", title: "recall@10", scale: { zero: false } },
      order: { field: "recall", type: "quantitative" },
    }),
  );
}

export interface SelectivityPoint {
  system: string;
  /** Share of rows the filter keeps, 0..1. */
  selectivity: number;
  qps: number;
  recall: number;
}

/** Queries per second against filter selectivity (both log scales), one line per system. */
export async function selectivityQpsSvg(title: string, points: SelectivityPoint[]): Promise<string> {
  return render(
    lineChart(title, points, {
      x: {
        field: "selectivity",
        type: "quantitative",
        title: "share of rows the filter keeps",
        scale: { type: "log" },
      },
      tooltip: [{ field: "recall", type: "quantitative" }],
    }),
  );
}

/** One line per system, queries per second on a log y axis; `encoding` adds the x axis and the rest. */
function lineChart(title: string, points: object[], encoding: Record<string, unknown>): TopLevelSpec {
  return {
    title,
    width: 640,
    height: 380,
    background: "white",
    data: { values: points },
    mark: { type: "line", point: true },
    encoding: {
      y: {
        field: "qps",
        type: "quantitative",
        title: "queries per second (one core)",
        scale: { type: "log" },
      },
      color: { field: "system", type: "nominal", title: null, legend: { orient: "bottom", columns: 2 } },
      ...encoding,
    },
  } as TopLevelSpec;
}

/** Renders a Vega-Lite spec to SVG headless (no canvas, no browser). */
async function render(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
