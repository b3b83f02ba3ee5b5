/**
 * The C kernels through bun:ffi (with file-lock.ts, the only files that import bun:ffi).
 *
 * Typed arrays are passed straight through as pointers (no copies: they may be views over
 * memory-mapped slab files); the C side uses unaligned loads, so any byteOffset works.
 * Output buffers are allocated here and double as the C heap (no allocation across the
 * boundary). O(1) argument checks run here; the C library checks again and returns a status.
 */
import { dlopen, FFIType, suffix } from "bun:ffi";
import { join } from "node:path";
import { invalidArgument, NeedleError } from "../storage/errors.ts";
import type { Int8ScanInput, Kernels, Metric, ScanInput, TopK } from "./types.ts";
import {
  checkAssignInput,
  checkBitset,
  checkInt8ScanInput,
  checkScanInput,
  emptyTopK,
  topKMax,
  trimTopK,
} from "./validate.ts";

/** Must equal NEEDLE_ABI_VERSION in ffi/src/needle_kernels.h. */
const abiVersion = 2;

/** Dispatch path codes (NEEDLE_PATH_* in needle_kernels.h) and the names Kernels report. */
const pathCodes = { scalar: 0, avx2: 1, avx512: 2, neon: 3 } as const;
type SimdPath = keyof typeof pathCodes;
const pathNames: readonly SimdPath[] = ["scalar", "avx2", "avx512", "neon"];
const pathDefault = -1;

const metricCodes: Record<Metric, number> = { cosine: 0, euclidean: 1, dotproduct: 2 };

const envStatusNotes = [
  "",
  "",
  "lowered to the best path this CPU supports",
  "not a path of this architecture, ignored",
] as const;

/** Where the build script puts the library; NEEDLE_KERNELS_LIBRARY overrides it. */
function libraryPath(): string {
  return process.env.NEEDLE_KERNELS_LIBRARY ?? join(import.meta.dir, "build", `libneedle_kernels.${suffix}`);
}

const { ptr, u32, i32, f32 } = FFIType;

const symbols = {
  needle_abi_version: { args: [], returns: i32 },
  needle_default_path: { args: [], returns: i32 },
  needle_path_supported: { args: [i32], returns: i32 },
  needle_env_status: { args: [], returns: i32 },
  needle_scan_f32: { args: [i32, ptr, ptr, u32, u32, i32, ptr, u32, ptr, ptr], returns: i32 },
  needle_scan_f32_bitset: {
    args: [i32, ptr, ptr, u32, u32, i32, ptr, ptr, u32, u32, ptr, ptr],
    returns: i32,
  },
  needle_scan_f32_rows: { args: [i32, ptr, ptr, u32, u32, i32, ptr, ptr, u32, u32, ptr, ptr], returns: i32 },
  needle_scan_i8: {
    args: [i32, ptr, f32, ptr, ptr, u32, u32, i32, ptr, f32, ptr, f32, u32, ptr, ptr],
    returns: i32,
  },
  needle_scan_i8_rows: {
    args: [i32, ptr, f32, ptr, ptr, u32, u32, i32, ptr, f32, ptr, f32, ptr, u32, u32, ptr, ptr],
    returns: i32,
  },
  needle_assign_nearest: { args: [i32, ptr, u32, ptr, u32, u32, i32, ptr, ptr, ptr], returns: i32 },
} as const;

type Library = ReturnType<typeof dlopen<typeof symbols>>["symbols"];

/** The C side's NEEDLE_ERR_* codes (ffi/src/needle_kernels.h). */
const statusBadK = -2;
const statusMissingNorms = -3;
const statusBadRowIds = -4;
const statusPathUnsupported = -5;
const statusShortBitset = -6;

/** Turns a negative C status into the NeedleError the TypeScript twin would have thrown. */
function statusError(status: number, kernel: string): NeedleError {
  switch (status) {
    case statusBadK:
      return invalidArgument("k", `${kernel}: k must be 1 to ${topKMax}`, `1-${topKMax}`, "out of range");
    case statusMissingNorms:
      return invalidArgument(
        "inverseNorms",
        `${kernel}: the metric needs norms that were not given`,
        "present",
        "none",
      );
    case statusBadRowIds:
      return invalidArgument(
        "rowIds",
        `${kernel}: row ids must be strictly ascending and below rows`,
        "ascending",
        "not",
      );
    case statusShortBitset:
      return invalidArgument(
        "bitset",
        `${kernel}: bitset is shorter than ceil(rows / 8) bytes`,
        "ceil(rows/8)",
        "shorter",
      );
    case statusPathUnsupported:
      return new NeedleError("INTERNAL", `${kernel}: dispatch path not supported by this CPU or build`);
    default:
      return new NeedleError("INTERNAL", `${kernel}: the C library returned status ${status}`);
  }
}

function checked(status: number, kernel: string): number {
  if (status < 0) throw statusError(status, kernel);
  return status;
}

/** The query and row arguments both int8 scans take, in the C order (after `path`). */
function int8Arguments(input: Int8ScanInput) {
  return [
    input.queryCodes,
    input.queryScale,
    input.codes,
    input.scales,
    input.rows,
    input.dim,
    metricCodes[input.metric],
    input.metric === "cosine" ? input.inverseNorms! : null,
    input.queryInverseNorm ?? 0,
    input.metric === "euclidean" ? input.squaredNorms! : null,
    input.querySquaredNorm ?? 0,
  ] as const;
}

function makeKernels(library: Library, path: number, name: string): Kernels {
  function scanTopK(input: ScanInput): TopK {
    checkScanInput(input);
    const capacity = Math.min(input.k, input.rows);
    if (capacity === 0) return emptyTopK;
    const rows = new Uint32Array(capacity);
    const scores = new Float32Array(capacity);
    const count = library.needle_scan_f32(
      path,
      input.query,
      input.vectors,
      input.rows,
      input.dim,
      metricCodes[input.metric],
      input.metric === "cosine" ? input.inverseNorms! : null,
      input.k,
      rows,
      scores,
    );
    return trimTopK(rows, scores, checked(count, "scanTopK"));
  }

  /** The bitset and row-list scans take the same C arguments: a subset and its length added. */
  function scanSubset(
    scan: Library["needle_scan_f32_bitset"] | Library["needle_scan_f32_rows"],
    kernel: string,
    input: ScanInput,
    subset: Uint8Array | Uint32Array,
    capacity: number,
  ): TopK {
    if (capacity === 0) return emptyTopK;
    const rows = new Uint32Array(capacity);
    const scores = new Float32Array(capacity);
    const count = scan(
      path,
      input.query,
      input.vectors,
      input.rows,
      input.dim,
      metricCodes[input.metric],
      input.metric === "cosine" ? input.inverseNorms! : null,
      subset,
      subset.length,
      input.k,
      rows,
      scores,
    );
    return trimTopK(rows, scores, checked(count, kernel));
  }

  function scanTopKBitset(input: ScanInput, bitset: Uint8Array): TopK {
    checkScanInput(input);
    checkBitset(input, bitset);
    const capacity = Math.min(input.k, input.rows);
    return scanSubset(library.needle_scan_f32_bitset, "scanTopKBitset", input, bitset, capacity);
  }

  function scanTopKRows(input: ScanInput, rowIds: Uint32Array): TopK {
    checkScanInput(input);
    const capacity = Math.min(input.k, rowIds.length);
    return scanSubset(library.needle_scan_f32_rows, "scanTopKRows", input, rowIds, capacity);
  }

  function scanTopKInt8(input: Int8ScanInput): TopK {
    checkInt8ScanInput(input);
    const capacity = Math.min(input.k, input.rows);
    if (capacity === 0) return emptyTopK;
    const rows = new Uint32Array(capacity);
    const scores = new Float32Array(capacity);
    const count = library.needle_scan_i8(path, ...int8Arguments(input), input.k, rows, scores);
    return trimTopK(rows, scores, checked(count, "scanTopKInt8"));
  }

  function scanTopKInt8Rows(input: Int8ScanInput, rowIds: Uint32Array): TopK {
    checkInt8ScanInput(input);
    const capacity = Math.min(input.k, rowIds.length);
    if (capacity === 0) return emptyTopK;
    const rows = new Uint32Array(capacity);
    const scores = new Float32Array(capacity);
    const count = library.needle_scan_i8_rows(
      path,
      ...int8Arguments(input),
      rowIds,
      rowIds.length,
      input.k,
      rows,
      scores,
    );
    return trimTopK(rows, scores, checked(count, "scanTopKInt8Rows"));
  }

  function assignNearest(
    vectors: Float32Array,
    count: number,
    centroids: Float32Array,
    centroidCount: number,
    dim: number,
    metric: Metric,
    assignments: Uint32Array,
    scores?: Float32Array,
  ): void {
    checkAssignInput(vectors, count, centroids, centroidCount, dim, assignments, scores);
    if (count === 0) return;
    const scratch = metric === "cosine" ? new Float32Array(centroidCount) : null;
    const status = library.needle_assign_nearest(
      path,
      vectors,
      count,
      centroids,
      centroidCount,
      dim,
      metricCodes[metric],
      scratch,
      assignments,
      scores ?? null,
    );
    checked(status, "assignNearest");
  }

  return Object.freeze({
    name,
    scanTopK,
    scanTopKBitset,
    scanTopKRows,
    scanTopKInt8,
    scanTopKInt8Rows,
    assignNearest,
  });
}

export interface NativeKernels {
  /** The path chosen at load time (the best the CPU supports, lowered by NEEDLE_SIMD). */
  defaultKernels: Kernels;
  /** One Kernels per path this CPU and build support, lowest first. */
  pathKernels: Kernels[];
  /** A note when NEEDLE_SIMD was lowered or ignored; empty otherwise. */
  envNote: string;
}

export type NativeLoad = { ok: true; kernels: NativeKernels } | { ok: false; reason: string };

/** Opens the C library; never throws (a failure is a reason string for the caller to log). */
export function loadNativeKernels(): NativeLoad {
  const path = libraryPath();
  let library: Library;
  try {
    library = dlopen(path, symbols).symbols;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return {
      ok: false,
      reason: `cannot open ${path} (${message.split("\n")[0]}); run \`bun run build:ffi\``,
    };
  }
  const version = library.needle_abi_version();
  if (version !== abiVersion) {
    return { ok: false, reason: `${path} has ABI version ${version}, expected ${abiVersion}; rebuild it` };
  }
  const defaultName = pathNames[library.needle_default_path()] ?? "scalar";
  const pathKernels = pathNames
    .filter((pathName) => library.needle_path_supported(pathCodes[pathName]) === 1)
    .map((pathName) => makeKernels(library, pathCodes[pathName], `c:${pathName}`));
  const envStatus = library.needle_env_status();
  const envNote =
    envStatus >= 2
      ? `NEEDLE_SIMD=${process.env.NEEDLE_SIMD}: ${envStatusNotes[envStatus]} (using ${defaultName})`
      : "";
  return {
    ok: true,
    kernels: { defaultKernels: makeKernels(library, pathDefault, `c:${defaultName}`), pathKernels, envNote },
  };
}
