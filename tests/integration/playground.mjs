// tests/integration/playground.mjs - the playground page of tincan serve in
// a real browser: Debian's headless chromium driven by playwright-core
// (tests/package.json). Starts its own server (every job on the emulator) on
// a free loopback port, runs hello as hex and a faulting guest as an
// uploaded .bin, and checks what the page shows: the output as text and as
// a hex dump, the status with its fault details, exits, wall time, backend,
// the history; that the page loads nothing from elsewhere; and keeps a
// screenshot at $BUILD/playground.png. Prints "ok NAME" / "FAIL NAME: why"
// and "N passed, M failed".
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const require = createRequire(resolve("tests/package.json"));
const BUILD = process.env.BUILD || "build";
const TINCAN = join(BUILD, "tincan");
const G = join(BUILD, "guests");
const tmp = mkdtempSync(join(tmpdir(), "tincan-play."));
let passed = 0, failed = 0, server, context;

function check(name, cond, why) {
  if (cond) { console.log("ok " + name); passed++; }
  else { console.log("FAIL " + name + ": " + why); failed++; }
}

async function startServer() {
  const log = join(tmp, "access.log");
  server = spawn(TINCAN, ["serve", "--listen", "127.0.0.1:0", "--log", log],
                 { stdio: ["ignore", "ignore", "inherit"] });
  for (let i = 0; i < 600; i++) {
    if (existsSync(log)) {
      for (const line of readFileSync(log, "utf8").split("\n")) {
        if (!line) continue;
        const e = JSON.parse(line);
        if (e.event === "listening") return e.detail;
      }
    }
    await new Promise((ok) => setTimeout(ok, 50));
  }
  throw new Error("tincan serve did not start");
}

async function main() {
  let playwright;
  try {
    playwright = require("playwright-core");
  } catch (e) {
    check("playground_browser_available", false,
          "playwright-core is missing: run npm ci --prefix tests (scripts/install-deps does)");
    return;
  }
  const base = await startServer();
  context = await playwright.chromium.launchPersistentContext(join(tmp, "profile"), {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync"],
  });
  const page = context.pages()[0] || await context.newPage();
  const foreign = [];
  page.on("request", (r) => { if (!r.url().startsWith(base + "/")) foreign.push(r.url()); });
  await page.goto(base + "/");
  await page.waitForFunction(() => document.getElementById("info").textContent.startsWith("tincan 0.1.0"));
  await page.selectOption("#backend", "emu");

  // hello, pasted as hex
  const hello = readFileSync(join(G, "hello_once.bin"));
  await page.fill("#code", hello.toString("hex").replace(/(..)/g, "$1 ").trim());
  await page.click("#run");
  await page.waitForFunction(() => !document.getElementById("status").textContent.startsWith("running"));
  const status = await page.textContent("#status");
  const outText = await page.textContent("#outtext");
  const outHex = await page.textContent("#outhex");
  const details = await page.$$eval("#details tr", (rows) =>
    Object.fromEntries(rows.map((r) => [r.cells[0].textContent, r.cells[1].textContent])));
  check("playground_runs_hello_and_shows_its_output", status === "ok" &&
        outText === "Hello, World!\n", `status ${status}, output ${JSON.stringify(outText)}`);
  check("playground_shows_the_output_as_a_hex_dump", outHex ===
        "00000000  48 65 6c 6c 6f 2c 20 57 6f 72 6c 64 21 0a        |Hello, World!.|",
        JSON.stringify(outHex));
  check("playground_shows_exits_wall_time_and_backend", details.backend === "emu" &&
        details.exits === "2" && /^\d+ us$/.test(details.wall) && details.message === "halted",
        JSON.stringify(details));

  // a faulting guest, chosen as a file
  await page.setInputFiles("#codefile", join(G, "ud2.bin"));
  await page.click("#run");
  await page.waitForFunction(() => document.getElementById("status").textContent === "fault");
  const fd = await page.$$eval("#details tr", (rows) =>
    Object.fromEntries(rows.map((r) => [r.cells[0].textContent, r.cells[1].textContent])));
  check("playground_shows_a_fault_with_vector_rip_and_cr2",
        fd.fault === "#UD (vector 6)" && fd.rip === "0x10000" && fd.cr2 === "-" &&
        fd.message === "#UD (vector 6) at rip 0x10000", JSON.stringify(fd));
  const history = await page.$$eval("#history tr", (rows) => rows.map((r) => r.cells[1].textContent));
  check("playground_keeps_a_history_of_runs", JSON.stringify(history) === '["fault","ok"]',
        JSON.stringify(history));
  await page.screenshot({ path: join(BUILD, "playground.png"), fullPage: true });
  check("playground_loads_nothing_from_elsewhere", foreign.length === 0, foreign.join(" "));
}

try {
  await main();
} catch (e) {
  check("playground", false, String(e && e.stack || e).slice(0, 1500));
} finally {
  if (context) await context.close().catch(() => {});
  if (server) {
    server.kill("SIGTERM");
    await new Promise((ok) => server.on("exit", ok));
  }
  rmSync(tmp, { recursive: true, force: true });
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}
