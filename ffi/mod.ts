/**
 * The public surface of ffi/: the kernels the engine calls, chosen once per process.
 * `kernels()` is the C library when it loads, else the TypeScript twin (one log line says why).
 */
import { type NativeLoad, loadNativeKernels } from "./native.ts";
import { typescriptKernels } from "./reference.ts";

export { referenceDebugChecks } from "./reference.ts";
export {
  componentMagnitudeMax,
  cosineFloat64,
  inverseNormFloat64,
  isKernelSafeInverseNorm,
  isWithinComponentMagnitude,
  unitVector,
} from "./score-range.ts";
import type { Kernels } from "./types.ts";

export type { Int8ScanInput, Kernels, Metric, ScanInput, TopK } from "./types.ts";
export { lowerIsBetter, metrics } from "./types.ts";
export { topKMax } from "./validate.ts";
export { computeInverseNorms, inverseNorm, type SparseVector, sparseDot } from "./vector-math.ts";
export { typescriptKernels };

export type KernelLogger = (line: string) => void;

let logger: KernelLogger = (line) => console.warn(line);
let nativeLoad: NativeLoad | undefined;
let chosen: Kernels | undefined;

/** Where the one-time "which kernels" line goes (tests and the server inject their own). */
export function setKernelLogger(next: KernelLogger): void {
  logger = next;
}

function native(): NativeLoad {
  nativeLoad ??= loadNativeKernels();
  return nativeLoad;
}

/** The kernels to use: C (best path, or what NEEDLE_SIMD allows) or the TypeScript twin. */
export function kernels(): Kernels {
  if (chosen !== undefined) return chosen;
  const load = native();
  if (load.ok) {
    if (load.kernels.envNote) logger(`needle: kernels: ${load.kernels.envNote}`);
    chosen = load.kernels.defaultKernels;
  } else {
    logger(`needle: kernels: C library unavailable, using the TypeScript kernels: ${load.reason}`);
    chosen = typescriptKernels;
  }
  return chosen;
}

/** Every C dispatch path this machine supports, then the TypeScript twin (tests, benchmarks). */
export function availableKernels(): Kernels[] {
  const load = native();
  return load.ok ? [...load.kernels.pathKernels, typescriptKernels] : [typescriptKernels];
}
