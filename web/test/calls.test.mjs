// calls.test.mjs: 1:1 calls in the web client, end to end: two (or three) real Chromium
// contexts with fake camera and microphone, a real parleyd relaying the signalling, and for
// the relay test a real coturn (Debian's) on loopback with the TURN REST secret shared with
// parleyd. Media flow, the relay pair and the screen share are read from getStats through the
// numbers the call screen shows (data- attributes of the call screen).
//
// Everything runs in a network namespace with only loopback (`unshare --net`, `ip link set
// lo up`), so no media or TURN traffic can leave the machine whatever interfaces it has: run
// normally, this file re-executes itself inside one (needs root, as CI runs) and reports the
// inner run as one test.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Server, freePort, launch, person, register, login, startPrivate, openChat, shotPath, sleep, inLoopbackNamespace } from "./harness.mjs";

inLoopbackNamespace(import.meta.url, "calls", defineTests);

function defineTests() {
  const SECRET = randomBytes(16).toString("hex");
  const RING = 4;
  const PW = "correct horse battery";
  let n = 0;
  const uname = (p) => `${p}${process.pid % 10000}x${n++}`;
  let server, browser, turn, turnPort, turnBase, turnLog = "";

  before(async () => {
    turnPort = await freePort();
    turn = await startCoturn(turnPort);
    server = await new Server(`call_ring_timeout = ${RING}\nturn_secret = ${SECRET}\nturn_ttl = 600\n` +
      `turn_urls = turn:127.0.0.1:${turnPort}?transport=udp\n`).start();
    server.secrets.add(SECRET);
    browser = await launch(["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
      "--allow-loopback-in-peer-connection", "--auto-accept-this-tab-capture",
      "--autoplay-policy=no-user-gesture-required"]);
  });

  after(async () => {
    await browser?.close();
    if (turn) {
      const t = turn;
      turn = null;
      await new Promise((res) => { t.on("exit", res); t.kill("SIGTERM"); setTimeout(() => t.kill("SIGKILL"), 5000); });
    }
    if (turnBase) rmSync(turnBase, { recursive: true, force: true });
    try { await server?.stop(); } finally { server?.cleanup(); }
  });

  async function startCoturn(port) {
    turnBase = mkdtempSync(join(tmpdir(), "parley-turn-"));
    const base = turnBase;
    const min = 40000 + Math.floor(Math.random() * 20000);
    const p = spawn("turnserver", ["-n", "--listening-ip=127.0.0.1", `--listening-port=${port}`,
      "--relay-ip=127.0.0.1", `--min-port=${min}`, `--max-port=${min + 200}`, "--use-auth-secret",
      `--static-auth-secret=${SECRET}`, "--realm=parley.test", "--allow-loopback-peers", "--no-cli",
      "--no-tls", "--no-dtls", "--fingerprint", "--log-file=stdout", "--simple-log",
      `--pidfile=${join(base, "turnserver.pid")}`, `--db=${join(base, "turndb")}`],
    { stdio: ["ignore", "pipe", "pipe"] });
    p.stdout.on("data", (d) => { turnLog += d; });
    p.stderr.on("data", (d) => { turnLog += d; });
    for (let i = 0; i < 100; i++) {
      if (p.exitCode !== null) throw new Error(`turnserver exited:\n${turnLog}`);
      if (/listener opened on|Total UDP servers/.test(turnLog)) return p;
      await sleep(100);
    }
    return p;  // it may log differently; the relay test below fails clearly if it is not up
  }

  const screen = (page) => page.locator("section.call");
  const phase = (page, ph, timeout = 15000) => page.locator(`section.call[data-phase='${ph}']`).waitFor({ timeout });
  const stat = async (page, name) => Number(await screen(page).getAttribute(`data-${name}`));
  const button = (page, name) => screen(page).getByRole("button", { name, exact: true });

  // Waits until inbound video frames and audio packets have risen twice by a margin.
  async function mediaFlows(page, label) {
    const deadline = Date.now() + 20000;
    let f0 = -1, a0 = -1, rises = 0;
    while (Date.now() < deadline) {
      const f = await stat(page, "frames-decoded"), a = await stat(page, "audio-packets");
      if (f0 >= 0 && f > f0 + 5 && a > a0 + 5) rises++;
      if (rises >= 2) return { frames: f, packets: a };
      if (f0 < 0 || (f > f0 + 5 && a > a0 + 5)) { f0 = f; a0 = a; }
      await sleep(1000);
    }
    throw new Error(`${label}: media did not flow (frames ${await stat(page, "frames-decoded")}, ` +
      `packets ${await stat(page, "audio-packets")})`);
  }

  // The documented derivation (docs/CALLS.md), recomputed here, independent of the client.
  const RANGES = [[0x1F400, 0x1F43E], [0x1F340, 0x1F37C], [0x1F380, 0x1F393], [0x1F3A0, 0x1F3C4],
    [0x1F3C6, 0x1F3CA], [0x1F680, 0x1F6C5]];
  const TABLE = RANGES.flatMap(([a, b]) => Array.from({ length: b - a + 1 }, (_, i) => String.fromCodePoint(a + i)));
  function expectedEmoji(callId, fpA, fpB) {
    const [lo, hi] = [fpA, fpB].sort();
    const id = Buffer.alloc(8);
    id.writeBigUInt64BE(BigInt(callId));
    const d = createHash("sha256").update(Buffer.concat([Buffer.from("parley-call-verify-v1"), Buffer.from([0]),
      id, Buffer.from(lo), Buffer.from([0]), Buffer.from(hi)])).digest();
    return [0, 1, 2, 3].map((i) => TABLE[d[i]]).join(" ");
  }

  async function checkEmoji(A, B) {
    const emojiA = screen(A).locator(".call-emoji"), emojiB = screen(B).locator(".call-emoji");
    await A.waitForFunction(() => document.querySelector(".call-emoji")?.textContent?.length > 0);
    await B.waitForFunction(() => document.querySelector(".call-emoji")?.textContent?.length > 0);
    const ea = await emojiA.innerText(), eb = await emojiB.innerText();
    assert.equal(ea, eb, "both sides show the same emoji");
    assert.equal([...ea.replace(/ /g, "")].length, 4);
    const d = async (p, k) => screen(p).getAttribute(`data-${k}`);
    // What A received as B's fingerprint is what B has, and the other way round.
    assert.equal(await d(A, "remote-fingerprint"), await d(B, "local-fingerprint"));
    assert.equal(await d(B, "remote-fingerprint"), await d(A, "local-fingerprint"));
    assert.match(await d(A, "local-fingerprint"), /^sha-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    const want = expectedEmoji(await d(A, "call-id"), await d(A, "local-fingerprint"), await d(A, "remote-fingerprint"));
    assert.equal(ea, want, "the emoji follow the documented derivation");
    return ea;
  }

  async function pair() {
    const a = uname("ca"), b = uname("cb");
    const A = await person(browser, server), B = await person(browser, server);
    await register(A.page, a, PW);
    await register(B.page, b, PW);
    await startPrivate(A.page, b);
    return { a, b, A, B };
  }

  async function ring(A, B, video = true) {
    await A.page.getByRole("button", { name: video ? "Video call" : "Voice call" }).click({ timeout: 5000 })
      .catch(async (e) => { await A.page.screenshot({ path: shotPath("calls-ring-failed.png") }); throw e; });
    await phase(A.page, "outgoing");
    await phase(B.page, "incoming");
    await screen(B.page).getByText(/is calling/).waitFor();
  }

  async function hangupAndEntries(A, B, extra = []) {
    await button(A.page, "Hang up").click();
    await phase(B.page, "ended");
    for (const p of [A.page, B.page, ...extra]) {
      const c = screen(p);
      if (await c.getAttribute("data-phase") === "ended") await button(p, "Close").click().catch(() => {});
    }
  }

  async function closeAll(...ps) {
    for (const p of ps) {
      assert.deepEqual(p.page.errors, [], "no page errors");
      await p.ctx.close();
    }
  }

  test("two users call: accept, media both ways, same emoji, hang up, history everywhere", async () => {
    const { a, b, A, B } = await pair();
    const A2 = await person(browser, server);     // the caller's other device
    await login(A2.page, a, PW);
    await ring(A, B);
    await button(B.page, "Accept").click();
    await phase(A.page, "active");
    await phase(B.page, "active");
    const fa = await mediaFlows(A.page, "caller"), fb = await mediaFlows(B.page, "callee");
    assert.ok(fa.frames > 0 && fb.frames > 0 && fa.packets > 0 && fb.packets > 0);
    await checkEmoji(A.page, B.page);
    assert.equal(await screen(A2.page).getAttribute("data-phase") ?? "", "", "the caller's other device does not ring");
    assert.match(await screen(A.page).locator(".call-info").innerText(), /\d:\d\d/);
    await sleep(1200);
    await hangupAndEntries(A, B);
    await A.page.locator(".msg.call-entry", { hasText: /Outgoing video call · 0:0\d/ }).waitFor();
    await openChat(B.page, a);
    await B.page.locator(".msg.call-entry", { hasText: /Incoming video call · 0:0\d/ }).waitFor();
    await openChat(A2.page, b);
    await A2.page.locator(".msg.call-entry", { hasText: /Outgoing video call/ }).waitFor();
    await closeAll(A, B, A2);
  });

  test("relay forced: media through coturn, the selected pair is a relay pair", async () => {
    const { a, b, A, B } = await pair();
    // The setting lives on the server, per account: set it from the chat settings dialog.
    for (const [p, peer] of [[A.page, b], [B.page, a]]) {
      if (p === B.page) await openChat(p, peer);
      await p.getByRole("button", { name: "Chat settings" }).click();
      const box = p.getByRole("dialog").getByRole("checkbox", { name: /Always relay calls/ });
      await box.check();
      await p.waitForTimeout(300);
      assert.equal(await box.isChecked(), true);
      await p.getByRole("dialog").getByRole("button", { name: "Close" }).click();
    }
    await ring(A, B);
    await button(B.page, "Accept").click();
    await phase(A.page, "active", 20000);
    await phase(B.page, "active", 20000);
    await mediaFlows(A.page, "caller via relay");
    await mediaFlows(B.page, "callee via relay");
    assert.equal(await screen(A.page).getAttribute("data-local-candidate"), "relay", turnLog.slice(-2000));
    assert.equal(await screen(B.page).getAttribute("data-local-candidate"), "relay");
    await screen(A.page).getByText("relayed").waitFor();
    await checkEmoji(A.page, B.page);
    await hangupAndEntries(A, B);
    assert.ok(!turnLog.includes(SECRET), "coturn does not log the secret");
    await closeAll(A, B);
  });

  test("decline, cancel before answer, and missed (timeout) leave their entries", async () => {
    const { a, b, A, B } = await pair();
    await openChat(B.page, a);
    // decline
    await ring(A, B, false);
    await button(B.page, "Decline").click();
    await phase(A.page, "ended");
    await screen(A.page).getByText("Declined").waitFor();
    await button(A.page, "Close").click();
    await button(B.page, "Close").click();
    await A.page.locator(".msg.call-entry", { hasText: "Declined voice call" }).waitFor();
    await B.page.locator(".msg.call-entry", { hasText: "Declined voice call" }).waitFor();
    // cancel
    await ring(A, B, false);
    await button(A.page, "Cancel").click();
    await phase(B.page, "ended");
    await screen(B.page).getByText("Cancelled").waitFor();
    await button(A.page, "Close").click();
    await button(B.page, "Close").click();
    await A.page.locator(".msg.call-entry", { hasText: "Cancelled voice call" }).waitFor();
    await B.page.locator(".msg.call-entry", { hasText: "Missed voice call" }).first().waitFor();
    // missed: nobody answers within call_ring_timeout
    await ring(A, B, true);
    await phase(A.page, "ended", (RING + 5) * 1000);
    await screen(A.page).getByText("No answer").waitFor();
    await phase(B.page, "ended");
    await A.page.locator(".msg.call-entry", { hasText: "Unanswered video call" }).waitFor();
    await B.page.locator(".msg.call-entry", { hasText: "Missed video call" }).waitFor();
    await closeAll(A, B);
  });

  test("busy: the callee is already in a call", async () => {
    const { a, b, A, B } = await pair();
    await ring(A, B, false);
    await button(B.page, "Accept").click();
    await phase(A.page, "active");
    const c = uname("cc");
    const C = await person(browser, server);
    await register(C.page, c, PW);
    await startPrivate(C.page, b);
    await C.page.getByRole("button", { name: "Voice call" }).click();
    await phase(C.page, "ended");
    await screen(C.page).getByText(/in another call/).waitFor();
    assert.equal(await screen(B.page).getAttribute("data-phase"), "active", "B's call is not disturbed");
    await button(C.page, "Close").click();
    await C.page.locator(".msg.call-entry", { hasText: "Outgoing voice call: busy" }).waitFor();
    await hangupAndEntries(A, B);
    await closeAll(A, B, C);
  });

  test("callee with two devices: both ring, the second stops when the first accepts", async () => {
    const { b, A, B } = await pair();
    const B2 = await person(browser, server);
    await login(B2.page, b, PW);
    await ring(A, B);
    await phase(B2.page, "incoming");
    await button(B.page, "Accept").click();
    await phase(B2.page, "ended");
    await screen(B2.page).getByText("Answered on another device").waitFor();
    await phase(A.page, "active");
    await mediaFlows(B.page, "the accepting device");
    await hangupAndEntries(A, B, [B2.page]);
    await closeAll(A, B, B2);
  });

  test("screen sharing reaches the other side and back to the camera", async () => {
    const { A, B } = await pair();
    await ring(A, B);
    await button(B.page, "Accept").click();
    await phase(A.page, "active");
    await mediaFlows(B.page, "camera");
    const camWidth = await stat(B.page, "frame-width");
    await button(A.page, "Share screen").click();
    await screen(B.page).getByText("sharing their screen").waitFor();
    // The fake camera is 640 wide; the captured tab has the viewport's 1280.
    await B.page.waitForFunction((w) => Number(document.querySelector("section.call")?.dataset.frameWidth) !== w,
      camWidth, { timeout: 20000 });
    await mediaFlows(B.page, "screen");
    await button(A.page, "Stop sharing").click();
    await B.page.waitForFunction(() => !document.querySelector("section.call .call-status")?.textContent?.includes("sharing"));
    await B.page.waitForFunction((w) => Number(document.querySelector("section.call")?.dataset.frameWidth) === w,
      camWidth, { timeout: 20000 });
    await hangupAndEntries(A, B);
    await closeAll(A, B);
  });

  test("the call screen fits desktop and tablet layouts", async () => {
    const a = uname("ca"), b = uname("cb");
    const A = await person(browser, server), B = await person(browser, server, { width: 768, height: 1024 });
    await register(A.page, a, PW);
    await register(B.page, b, PW);
    await startPrivate(A.page, b);
    await ring(A, B);
    await button(B.page, "Accept").click();
    await phase(A.page, "active");
    await phase(B.page, "active");
    for (const [p, vp, stacked] of [[A.page, { width: 1280, height: 800 }, false], [B.page, { width: 768, height: 1024 }, true]]) {
      const media = await screen(p).locator(".call-media").boundingBox();
      const side = await screen(p).locator(".call-side").boundingBox();
      if (stacked) assert.ok(side.y >= media.y + media.height - 1, "tablet: controls below the video");
      else assert.ok(side.x >= media.x + media.width - 1, "desktop: controls beside the video");
      for (const name of ["Mute", "Camera off", "Share screen", "Hang up"]) {
        const bb = await button(p, name).boundingBox();
        assert.ok(bb && bb.x >= 0 && bb.y >= 0 && bb.x + bb.width <= vp.width && bb.y + bb.height <= vp.height,
          `${name} is on screen (${JSON.stringify(bb)})`);
        assert.ok(bb.height >= 44, `${name} is a comfortable touch target`);
      }
      await p.screenshot({ path: shotPath(`call-${stacked ? "tablet" : "desktop"}.png`) });
    }
    // mute is shown as pressed and reaches the peer's screen state
    await button(A.page, "Mute").click();
    await button(A.page, "Unmute").waitFor();
    assert.equal(await button(A.page, "Unmute").getAttribute("aria-pressed"), "true");
    await screen(B.page).getByText(/\(muted\)/).waitFor();
    await button(A.page, "Camera off").click();
    await screen(B.page).getByText(/muted, camera off/).waitFor();
    await hangupAndEntries(A, B);
    await closeAll(A, B);
  });
}
