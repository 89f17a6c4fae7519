// harness.mjs: what the browser tests share. Starts a real parleyd (temp data dir, free
// port on 127.0.0.1, the built web/dist), drives Debian's chromium through playwright-core
// (no browser download) and runs the real `parley` CLI. PARLEY_BIN names the directory with
// parleyd and parley (default ../build/bin); scripts/run-tests.sh sets it.
import { spawn, spawnSync, execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import https from "node:https";
import { chromium } from "playwright-core";
import { test } from "node:test";
import assert from "node:assert/strict";

const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(here, "..", "..");
export const BIN = resolve(process.env.PARLEY_BIN || join(ROOT, "build", "bin"));
export const WEB = join(ROOT, "web", "dist");
export const SHOTS = join(ROOT, "web", "test-output");
const ALARMING = /AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:|Segmentation fault/;

export function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => res(p)); });
    s.on("error", rej);
  });
}

export function httpsRequest(port, path, { method = "GET", headers = {}, body } = {}) {
  return new Promise((res, rej) => {
    const req = https.request({ host: "127.0.0.1", port, path, method, headers,
      rejectUnauthorized: false, timeout: 5000 }, (r) => {
      const chunks = [];
      r.on("data", (c) => chunks.push(c));
      r.on("end", () => res({ status: r.statusCode, headers: r.headers, body: Buffer.concat(chunks) }));
    });
    req.on("error", rej);
    if (body) req.write(body);
    req.end();
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class Server {
  // extraConfig: more `key = value` lines for parleyd.conf (e.g. the call tests' TURN setup).
  constructor(extraConfig = "") {
    this.extraConfig = extraConfig;
    this.base = mkdtempSync(join(tmpdir(), "parley-web-"));
    this.data = join(this.base, "data");
    this.proc = null;
    this.log = "";
    this.port = 0;
    this.secrets = new Set();   // passwords and tokens that must never appear in the log
  }
  get url() { return `https://127.0.0.1:${this.port}`; }
  get ws() { return `wss://127.0.0.1:${this.port}`; }
  get ca() { return join(this.data, "tls", "cert.pem"); }

  // Starts (or restarts, on the same data dir and port) parleyd and waits for /healthz.
  // Test tuning only: a cheap Argon2 cost (still Argon2id) and a flood budget that lets
  // seed.py write a 10,000-message history in seconds.
  async start() {
    if (!this.port) this.port = await freePort();
    const conf = join(this.base, "parleyd.conf");
    writeFileSync(conf, "argon2_ops = 1\nargon2_mem = 64K\nflood_rate = 100000\nflood_burst = 100000\n" +
      // every browser comes from 127.0.0.1: lift the per-source registration limits
      "registrations_per_source_per_hour = 0\npassword_jobs_per_source = 1000\n" +
      "max_connections_per_source = 100000\n" +
      this.extraConfig);
    this.proc = spawn(join(BIN, "parleyd"), ["--data", this.data, "--listen", `127.0.0.1:${this.port}`,
      "--web", WEB, "--config", conf], { stdio: ["ignore", "pipe", "pipe"] });
    const add = (d) => { this.log += d.toString(); };
    this.proc.stdout.on("data", add);
    this.proc.stderr.on("data", add);
    const deadline = Date.now() + 30000;
    for (;;) {
      if (this.proc.exitCode !== null) throw new Error(`parleyd exited at start:\n${this.log}`);
      try {
        const r = await httpsRequest(this.port, "/healthz");
        if (r.status === 200) return this;
      } catch { /* not yet */ }
      if (Date.now() > deadline) throw new Error(`parleyd did not start:\n${this.log}`);
      await sleep(50);
    }
  }

  // SIGTERM; parleyd must exit 0 with a clean log.
  async stop() {
    if (!this.proc) return;
    const p = this.proc;
    this.proc = null;
    const code = await new Promise((res) => {
      if (p.exitCode !== null) return res(p.exitCode);
      p.on("exit", (c) => res(c));
      p.kill("SIGTERM");
      setTimeout(() => p.kill("SIGKILL"), 15000);
    });
    if (code !== 0) throw new Error(`parleyd exited with ${code}:\n${this.log.slice(-3000)}`);
    if (ALARMING.test(this.log)) throw new Error(`parleyd log:\n${this.log.slice(-4000)}`);
    for (const secret of this.secrets) {
      if (this.log.includes(secret)) throw new Error("a password or session token appeared in parleyd's log");
    }
  }

  cleanup() { rmSync(this.base, { recursive: true, force: true }); }
}

// Runs the real CLI with a profile under the server's base dir; resolves to parsed JSON lines.
export function cli(server, profile, args, password) {
  if (password) server.secrets.add(password);
  const env = { ...process.env };
  delete env.PARLEY_PASSWORD;
  if (password) env.PARLEY_PASSWORD = password;
  const full = ["--profile", join(server.base, "cli-" + profile), "--server", server.ws, "--ca", server.ca,
    "--json", ...args];
  return new Promise((res, rej) => {
    execFile(join(BIN, "parley"), full, { env, timeout: 60000 }, (err, stdout, stderr) => {
      if (ALARMING.test(stderr)) return rej(new Error(`parley: ${stderr}`));
      if (err) return rej(new Error(`parley ${args.join(" ")} failed: ${stderr || err.message}`));
      res(stdout.split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l)));
    });
  });
}

// Sends `count` messages from `user` (a CLI-registered account) to `peer` via seed.py.
export function seed(server, user, password, peer, count) {
  return new Promise((res, rej) => {
    execFile("/usr/bin/python3", [join(here, "seed.py"), String(server.port), server.ca, user, password,
      peer, String(count)], { timeout: 300000 }, (err, stdout, stderr) => {
      if (err) return rej(new Error(`seed.py: ${stderr || err.message}`));
      res(stdout.trim());
    });
  });
}

export async function launch(extraArgs = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", ...extraArgs],
  });
}

// A browser context for one person; page errors and CSP violations are collected.
export async function person(browser, server, viewport = { width: 1280, height: 800 }) {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport });
  const page = await ctx.newPage();
  page.server = server;
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") page.errors.push(m.text()); });
  await page.goto(server.url + "/");
  return { ctx, page };
}

async function rememberSecrets(page, password) {
  page.server.secrets.add(password);
  for (const c of await page.context().cookies()) if (c.name === "parley_session") page.server.secrets.add(c.value);
}

export async function register(page, username, password) {
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Register" }).click();
  await page.getByRole("navigation", { name: "Chat list" }).waitFor();
  await page.locator("#app[data-ready='1']").waitFor();
  await rememberSecrets(page, password);
}

export async function login(page, username, password) {
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.locator("#app[data-ready='1']").waitFor();
  await rememberSecrets(page, password);
}

export async function startPrivate(page, username) {
  await page.getByRole("button", { name: "New private chat" }).click();
  await page.getByRole("dialog").getByLabel("Username").fill(username);
  await page.getByRole("button", { name: "Start chat" }).click();
  await page.getByRole("textbox", { name: "Message" }).waitFor();
}

export async function openChat(page, title) {
  await page.getByRole("navigation", { name: "Chat list" }).getByRole("button", { name: new RegExp(title) }).first().click();
  await page.getByRole("textbox", { name: "Message" }).waitFor();
}

export async function send(page, text) {
  const box = page.getByRole("textbox", { name: "Message" });
  await box.fill(text);
  await box.press("Enter");
}

export function messages(page) {
  return page.getByRole("log", { name: "Messages" }).locator(".msg .text");
}

export function shotPath(name) {
  mkdirSync(SHOTS, { recursive: true });
  return join(SHOTS, name);
}

// Media tests run in a network namespace with only loopback (`unshare --net`, then
// `ip link set lo up`), so no packet can leave loopback whatever interfaces the machine has.
// Called at the top of a test file: run normally, the file re-executes itself inside one
// namespace and reports the inner run as one test (`title`); run inside, it calls
// defineTests(). The inner runner is a test run of its own, not a child of the outer one.
export function inLoopbackNamespace(fileUrl, title, defineTests) {
  if (process.env.PARLEY_NETNS === "1") { defineTests(); return; }
  test(`${title} (inside a loopback-only network namespace)`, { timeout: 600000 }, () => {
    const file = fileURLToPath(fileUrl);
    const env = { ...process.env, PARLEY_NETNS: "1" };
    delete env.NODE_TEST_CONTEXT;
    const r = spawnSync("unshare", ["--net", "sh", "-c",
      'ip link set lo up && exec "$0" --test --test-concurrency=1 "$1"', process.execPath, file],
    { env, stdio: ["ignore", "pipe", "pipe"], timeout: 590000, maxBuffer: 64 << 20 });
    const out = (r.stdout?.toString() ?? "") + (r.stderr?.toString() ?? "");
    process.stdout.write(out.split("\n").map((l) => "# " + l).join("\n") + "\n");
    assert.equal(r.error, undefined, `could not start the namespace: ${r.error}`);
    assert.equal(r.status, 0, `${title}: tests failed inside the namespace (output above)`);
    assert.match(out, /# pass [1-9]/);
    assert.match(out, /# fail 0/);
  });
}

export { sleep, existsSync, readFileSync };
