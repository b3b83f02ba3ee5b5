/**
 * The whole test suite: `npm test` runs this. It runs `bun test` over the repository, passes
 * its output through, and ends with one line `N passed, N failed` (what CI reads).
 * Extra arguments go to `bun test` (e.g. a path filter).
 */
export {};
const bunTest = Bun.spawn([process.execPath, "test", ...process.argv.slice(2)], {
  stdout: "pipe",
  stderr: "pipe",
  env: { ...process.env, FORCE_COLOR: "0" },
});

let passed = 0;
let failed = 0;

async function pump(stream: ReadableStream<Uint8Array>, sink: NodeJS.WriteStream): Promise<void> {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of stream) {
    sink.write(chunk);
    pending += decoder.decode(chunk, { stream: true });
    let newline = pending.indexOf("\n");
    while (newline >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      const pass = /^\s*(\d+) pass\s*$/.exec(line);
      if (pass) passed = Number(pass[1]);
      const fail = /^\s*(\d+) fail\s*$/.exec(line);
      if (fail) failed = Number(fail[1]);
      newline = pending.indexOf("\n");
    }
  }
}

await Promise.all([pump(bunTest.stdout, process.stdout), pump(bunTest.stderr, process.stderr)]);
const code = await bunTest.exited;
// A crashed runner that printed no summary still counts as a failure.
if (code !== 0 && failed === 0) failed = 1;
process.stdout.write(`${passed} passed, ${failed} failed\n`);
process.exit(code === 0 && failed === 0 ? 0 : 1);
