/**
 * Builds Needle's C kernels (ffi/src/*.c) into ffi/build/libneedle_kernels.{so,dylib}.
 * Run by `npm install` (postinstall) and by `bun run build:ffi`.
 *
 * Steps:
 *   1. Find a C compiler ($CC, else `cc`).
 *   2. Compile every source with -O3 (no -ffast-math, no -march=native: dispatch happens at run
 *      time, so one build runs on any CPU of its architecture). -ffp-contract=off keeps the
 *      compiler from fusing a*b+c where the source did not ask for it, so the int8 scores stay
 *      bit-identical to the TypeScript twin.
 *   3. If the compiler rejects the AVX-512 path (an old compiler), build again without it.
 *   4. Write to a temporary name and rename, so a process that has the old library loaded
 *      keeps a consistent file.
 * A missing or failing compiler is not an install failure: print one warning and exit 0;
 * the engine then uses the TypeScript twin (ffi/reference.ts).
 */
import { mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";

const ffiDir = resolve(import.meta.dir, "..", "ffi");
const sourceDir = join(ffiDir, "src");
const buildDir = join(ffiDir, "build");
const libraryName = `libneedle_kernels.${process.platform === "darwin" ? "dylib" : "so"}`;
const libraryPath = join(buildDir, libraryName);
const compiler = process.env.CC ?? "cc";

const baseFlags = [
  "-O3",
  "-std=gnu11",
  "-fPIC",
  "-shared",
  "-fvisibility=hidden",
  "-ffp-contract=off",
  "-Wall",
  "-Wextra",
];

function compile(extraFlags: string[]): { ok: boolean; output: string } {
  const sources = readdirSync(sourceDir)
    .filter((name) => name.endsWith(".c"))
    .sort()
    .map((name) => join(sourceDir, name));
  const temporaryPath = `${libraryPath}.${process.pid}.tmp`;
  const command = [compiler, ...baseFlags, ...extraFlags, "-o", temporaryPath, ...sources, "-lm"];
  try {
    const result = Bun.spawnSync(command, { stdout: "pipe", stderr: "pipe" });
    const output = `${result.stdout.toString()}${result.stderr.toString()}`.trim();
    if (result.exitCode !== 0) {
      rmSync(temporaryPath, { force: true });
      return { ok: false, output: output || `${compiler} exited with code ${result.exitCode}` };
    }
    renameSync(temporaryPath, libraryPath);
    return { ok: true, output };
  } catch (error) {
    rmSync(temporaryPath, { force: true });
    return { ok: false, output: error instanceof Error ? error.message : String(error) };
  }
}

function main(): void {
  mkdirSync(buildDir, { recursive: true });
  const started = performance.now();
  let result = compile([]);
  let note = "with the scalar path";
  if (process.arch === "x64") note = "with AVX-512, AVX2 and scalar paths";
  if (process.arch === "arm64") note = "with NEON and scalar paths";
  if (!result.ok && process.arch === "x64") {
    const withoutAvx512 = compile(["-DNEEDLE_NO_AVX512"]);
    if (withoutAvx512.ok) {
      result = withoutAvx512;
      note = "without AVX-512 (the compiler rejected it), with AVX2 and scalar paths";
    }
  }
  if (!result.ok) {
    const firstLine = result.output.split("\n")[0] ?? "";
    console.warn(
      `needle: warning: could not build the C kernels with "${compiler}" (${firstLine}); ` +
        "Needle will use the slower TypeScript kernels. Install a C compiler and run `bun run build:ffi`.",
    );
    return;
  }
  const milliseconds = Math.round(performance.now() - started);
  console.log(`needle: built ${libraryPath} ${note} (${compiler}, ${milliseconds} ms)`);
  if (result.output) console.log(result.output);
}

main();
