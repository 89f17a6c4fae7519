#!/usr/bin/env node
// web-budget.mjs: the web client's budget figures for docs/BENCHMARKS.md.
//   1. shipped JavaScript: every .js in web/dist, raw and gzipped (as parleyd serves it);
//   2. time to an interactive chat list: a logged-in browser (Debian's chromium, headless)
//      navigates to https://127.0.0.1:PORT/ of a real parleyd on loopback whose account has
//      CHATS chats; measured from navigation start to the client's "parley-chatlist-ready"
//      mark (chat list rendered from GetChats, buttons live), RUNS times, cold page each time.
// Usage (after `make`): node bench/web-budget.mjs [--chats 40] [--runs 15]
// Needs web/node_modules (make web-deps) and build/bin (or PARLEY_BIN).
import { readdirSync, readFileSync } from "node:fs";
import { gzipSync, constants } from "node:zlib";
import { join } from "node:path";
import { Server, cli, launch, person, register, WEB } from "../web/test/harness.mjs";

const arg = (name, def) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const CHATS = arg("--chats", 40), RUNS = arg("--runs", 15);
const BUDGET_JS_GZ = 300 * 1024, BUDGET_TTI_MS = 1000;

let raw = 0, gz = 0;
for (const f of readdirSync(WEB).filter((n) => n.endsWith(".js"))) {
  const body = readFileSync(join(WEB, f));
  raw += body.length;
  gz += gzipSync(body, { level: constants.Z_BEST_COMPRESSION }).length;
}
console.log(`shipped JavaScript: ${(raw / 1024).toFixed(1)} KiB raw, ${(gz / 1024).toFixed(1)} KiB gzipped ` +
  `(budget 300 KiB gzipped: ${gz < BUDGET_JS_GZ ? "ok" : "OVER"})`);

const server = await new Server().start();
const browser = await launch();
try {
  const PW = "bench password";
  const me = `bench${process.pid % 100000}`;
  const P = await person(browser, server);
  await register(P.page, me, PW);
  for (let i = 0; i < CHATS; i++) {
    const peer = `peer${process.pid % 100000}x${i}`;
    await cli(server, peer, ["register", peer], PW);
    await cli(server, peer, ["send", "@" + me, `hello number ${i}`]);
  }
  const times = [];
  for (let r = 0; r < RUNS; r++) {
    const page = await P.ctx.newPage();   // same cookie, fresh page and JS heap
    await page.goto(server.url + "/");
    await page.locator("#app[data-ready='1']").waitFor();
    const n = await page.getByRole("navigation", { name: "Chat list" }).getByRole("listitem").count();
    if (n !== CHATS) throw new Error(`chat list shows ${n} chats, expected ${CHATS}`);
    const t = await page.evaluate(() => performance.getEntriesByName("parley-chatlist-ready")[0]?.startTime);
    times.push(t);
    await page.close();
  }
  times.sort((a, b) => a - b);
  const q = (p) => times[Math.min(times.length - 1, Math.floor(p * times.length))];
  console.log(`chat list interactive (${CHATS} chats, ${RUNS} cold page loads): median ${q(0.5).toFixed(0)} ms, ` +
    `p90 ${q(0.9).toFixed(0)} ms, max ${times[times.length - 1].toFixed(0)} ms ` +
    `(budget ${BUDGET_TTI_MS} ms: ${times[times.length - 1] < BUDGET_TTI_MS ? "ok" : "OVER"})`);
  if (gz >= BUDGET_JS_GZ || q(0.5) >= BUDGET_TTI_MS) process.exitCode = 1;
} finally {
  await browser.close();
  await server.stop();
  server.cleanup();
}
