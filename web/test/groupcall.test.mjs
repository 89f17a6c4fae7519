// groupcall.test.mjs: group calls in the web client, end to end: three real Chromium contexts
// with fake camera and microphone join one group's call through a real parleyd, which starts
// and supervises the real parley-sfu. Every frame is SFrame-encrypted in the browsers, so a
// decoded frame proves the keys travelled end to end. Media flow is read from what the call
// screen writes into data- attributes (frames decoded per tile, audio bytes, E2EE counters).
//
// Like calls.test.mjs, it runs in a network namespace with only loopback (`unshare --net`,
// `ip link set lo up`): run normally, the file re-executes itself inside one and reports the
// inner run as one test.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join as pathJoin } from "node:path";
import { BIN, Server, launch, person, register, openChat, shotPath, sleep, inLoopbackNamespace } from "./harness.mjs";

inLoopbackNamespace(import.meta.url, "group calls", defineTests);

function defineTests() {
  const PW = "correct horse battery";
  let n = 0;
  const uname = (p) => `${p}${process.pid % 10000}x${n++}`;
  let server, browser;
  // The SFU runs with its --capture test hook (through a wrapper given as sfu_path): what it
  // records is what a curious SFU operator would have, for tests/tools/media_check.
  const capDir = mkdtempSync(pathJoin(tmpdir(), "parley-gc-capture-"));
  const capture = pathJoin(capDir, "sfu.rtp");
  const MEDIA_CHECK = pathJoin(BIN, "..", "tests", "media_check");

  function mediaCheck(args) {
    const r = spawnSync(MEDIA_CHECK, [capture, ...args], { timeout: 60000 });
    const out = r.stdout?.toString() ?? "";
    assert.equal(r.status, 0, `media_check failed: ${out} ${r.stderr}`);
    const m = Object.fromEntries([...out.matchAll(/(\w+) (\d+)/g)].map((x) => [x[1], Number(x[2])]));
    console.log("media_check", args.length ? "with keys:" : "without keys:", out.trim());
    return m;
  }

  // parleyd configured to start the SFU through a wrapper that adds test-hook arguments.
  function sfuWith(name, args) {
    const wrapper = pathJoin(capDir, name);
    writeFileSync(wrapper, `#!/bin/sh\nexec "${pathJoin(BIN, "parley-sfu")}" ${args} "$@"\n`, { mode: 0o755 });
    return new Server(`sfu_bind = 127.0.0.1\nsfu_path = ${wrapper}\n`);
  }

  before(async () => {
    server = await sfuWith("sfu-capture", `--capture "${capture}"`).start();
    browser = await launch(["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
      "--allow-loopback-in-peer-connection", "--auto-accept-this-tab-capture",
      "--autoplay-policy=no-user-gesture-required"]);
  });

  after(async () => {
    await browser?.close();
    try { await server?.stop(); } finally { server?.cleanup(); rmSync(capDir, { recursive: true, force: true }); }
  });

  const screen = (page) => page.locator("section.groupcall");
  const attr = async (loc, name) => Number(await loc.getAttribute(`data-${name}`));
  const tile = (page, name) => screen(page).locator(`.gc-tile[data-name='${name}']`);
  const entry = (page, name) => screen(page).locator(`.gc-list li[data-name='${name}']`);
  const trusts = (page, name, trust) => entry(page, name).and(page.locator(`[data-trust='${trust}']`))
    .waitFor({ timeout: 20000 });

  // Three people and a group of all of them; each has the group open.
  async function crew(count = 3, srv = server) {
    const people = [];
    for (let i = 0; i < count; i++) {
      const p = await person(browser, srv);
      p.name = uname("gc");
      await register(p.page, p.name, PW);
      people.push(p);
    }
    const A = people[0].page;
    await A.getByRole("button", { name: "New group" }).click();
    const d = A.getByRole("dialog");
    await d.getByLabel("Group title").fill("Standup");
    await d.getByLabel(/Members/).fill(people.slice(1).map((p) => p.name).join(", "));
    await d.getByRole("button", { name: "Create group" }).click();
    await A.getByRole("heading", { name: /Standup/ }).waitFor();
    for (const p of people.slice(1)) await openChat(p.page, "Standup");
    return people;
  }

  async function join(p) {
    await p.page.locator(".chat-head .gc-btn").click();
    await screen(p.page).locator(".gc-controls").getByRole("button", { name: "Leave" }).waitFor({ timeout: 20000 });
  }

  // Waits until `name`'s tile on `page` decodes frames and receives audio, rising twice.
  async function sees(page, name, label) {
    const t = tile(page, name);
    await t.waitFor({ timeout: 20000 });
    const deadline = Date.now() + 30000;
    let f0 = -1, a0 = -1, rises = 0;
    while (Date.now() < deadline) {
      const f = await attr(t, "frames"), a = await attr(t, "audio-bytes");
      if (f0 >= 0 && f > f0 + 3 && a > a0 + 500) rises++;
      if (rises >= 2) return { frames: f, audioBytes: a };
      if (f0 < 0 || (f > f0 + 3 && a > a0 + 500)) { f0 = f; a0 = a; }
      await sleep(1000);
    }
    await page.screenshot({ path: shotPath(`groupcall-${label}.png`) });
    console.log("e2ee", page.errors, await page.evaluate(() => JSON.stringify(window.__parleyGroupCall?.e2ee?.stats())));
    throw new Error(`${label}: no media from ${name} (frames ${await attr(t, "frames")}, ` +
      `audio bytes ${await attr(t, "audio-bytes")})`);
  }

  async function emoji(page) {
    await page.waitForFunction(() => document.querySelector(".gc-emoji")?.textContent?.length > 0);
    return screen(page).locator(".gc-emoji").innerText();
  }

  async function sameEmoji(people) {
    for (let i = 0; i < 20; i++) {
      const all = await Promise.all(people.map((p) => emoji(p.page)));
      if (all.every((e) => e === all[0])) return all[0];
      await sleep(250);
    }
    throw new Error("the membership emoji differ");
  }

  test("three join, see and hear each other, encrypted; a leave rotates keys", { timeout: 240000 }, async () => {
    const people = await crew(3);
    for (const p of people) await join(p);
    for (const p of people)
      for (const q of people) if (p !== q) await sees(p.page, q.name, `${p.name}-${q.name}`);
    // every call key was signed by its device and checked: first sight pins each device's key
    for (const p of people) for (const q of people) if (p !== q) await trusts(p.page, q.name, "pinned");
    const e1 = await sameEmoji(people);
    assert.equal([...e1.replace(/ /g, "")].length, 4);
    for (const p of people) {
      const s = screen(p.page);
      assert.ok(await attr(s, "encrypted") > 50, "frames were SFrame-encrypted");
      assert.ok(await attr(s, "decrypted") > 50, "frames were decrypted");
    }
    // What the SFU captured does not decode without the keys; with them it does.
    await sleep(1200);   // the capture is flushed once a second
    const keys = new Set((await Promise.all(people.map((p) =>
      p.page.evaluate(() => window.__parleyGroupCall?.e2ee?.debugKeys() ?? [])))).flat());
    // (Without keys a few garbage frames can decode to something flat, which the smoothness
    // test alone would call a picture; what counts is that none looks like the real one.)
    const blind = mediaCheck([]);
    assert.ok(blind.frames > 100, `the SFU captured video frames (${blind.frames})`);
    const keyed = mediaCheck([...keys].flatMap((k) => ["--key", k]));
    assert.ok(keyed.decrypted > 100, `the captured frames decrypt with the browsers' keys (${keyed.decrypted})`);
    assert.ok(keyed.pictures > keyed.decrypted * 0.8,
      `and then decode to pictures (${keyed.pictures} of ${keyed.decrypted})`);
    assert.equal(keyed.similar, 0, `no frame decoded without the keys resembles the real picture ` +
      `(${keyed.blind_decoded} decoded to something)`);

    // Congestion feedback from the SFU lets the senders' estimates rise, so the others' tiles
    // get more than the lowest simulcast layer (180 lines).
    for (const p of people) {
      let h = 0;
      for (let i = 0; i < 30 && h <= 180; i++, await sleep(500)) h = (await videoStats(p.page)).height;
      assert.ok(h > 180, `${p.name} receives video above the lowest layer (${h} lines)`);
    }

    // the layout: a grid with one tile per other participant, and the participant list
    assert.equal(await screen(people[0].page).locator(".gc-tile").count(), 2);
    assert.equal(await screen(people[0].page).locator(".gc-list li").count(), 3);
    await people[0].page.screenshot({ path: shotPath("groupcall-grid.png") });

    // mute and raise hand show everywhere
    const [A, B, C] = people;
    await screen(A.page).getByRole("button", { name: "Mute" }).click();
    await screen(A.page).getByRole("button", { name: "Raise hand" }).click();
    for (const p of [B, C]) {
      await tile(p.page, A.name).and(p.page.locator("[data-muted='1'][data-hand='1']")).waitFor({ timeout: 10000 });
    }

    await screen(A.page).getByRole("button", { name: "Unmute" }).click();

    // C leaves: A and B rotate to a new epoch, keep decoding each other, emoji change
    const epochA = await attr(screen(A.page), "epoch");
    await screen(C.page).getByRole("button", { name: "Leave" }).click();
    await tile(A.page, C.name).waitFor({ state: "detached", timeout: 10000 });
    await A.page.waitForFunction((e) => Number(document.querySelector("section.groupcall")?.dataset.epoch) > e, epochA);
    await sleep(1500);   // past the delay after which the new key is used
    await sees(A.page, B.name, "after-leave-A");
    await sees(B.page, A.name, "after-leave-B");
    const e2 = await sameEmoji([A, B]);
    assert.notEqual(e2, e1, "the membership emoji change when someone leaves");
    // the chat's history says who opened the call (C, back in the chat, reads it)
    await C.page.locator(".msg").getByText(`${A.name} started a group call`).waitFor({ timeout: 10000 });
    for (const p of people) await p.ctx.close();
  });

  // A key-substituting server, played by tampering with B's view: while window.__swap is set,
  // every other participant's call key is replaced before B sees it. The signature no longer
  // matches, so B shows A as unverified and seals nothing to it; A, whose view is intact,
  // trusts B and sends it its key. When the swapping stops A checks out and gets B's key; a
  // later swap under A's (valid, unchanged) signature is caught again.
  test("a swapped call key fails its signature: no keys to it, shown unverified", { timeout: 120000 }, async () => {
    const [A, B] = await crew(2);
    await join(B);
    await B.page.evaluate(() => {
      const c = window.__parleyGroupCall, orig = c.onEvent.bind(c);
      window.__swap = true;
      c.onEvent = (ev) => {
        const v = ev.kind.value;
        if (window.__swap && (ev.kind.case === "joined" || ev.kind.case === "changed") && v.participantId !== c.me)
          v.callKey = crypto.getRandomValues(new Uint8Array(32));
        return orig(ev);
      };
    });
    await join(A);
    await trusts(B.page, A.name, "bad");
    await trusts(A.page, B.name, "pinned");
    assert.equal(await tile(B.page, A.name).getAttribute("data-trust"), "bad");
    const idOf = async (page, name) => Number(await entry(page, name).getAttribute("data-id"));
    const [aId, bId] = [await idOf(B.page, A.name), await idOf(A.page, B.name)];
    const sealed = (page, id) => page.evaluate((i) => window.__parleyGroupCall.e2ee.debugSealedTo(i), id);
    await A.page.waitForFunction((i) => window.__parleyGroupCall.e2ee.debugSealedTo(i) > 0, bId);
    assert.equal(await sealed(B.page, aId), 0, "B sealed no key to the participant whose signature failed");
    await B.page.evaluate(() => { window.__swap = false; });
    await screen(A.page).getByRole("button", { name: "Mute" }).click();   // pushes A again
    await trusts(B.page, A.name, "pinned");
    await B.page.waitForFunction((i) => window.__parleyGroupCall.e2ee.debugSealedTo(i) > 0, aId);
    const n = await sealed(B.page, aId);
    await B.page.evaluate(() => { window.__swap = true; });
    await screen(A.page).getByRole("button", { name: "Unmute" }).click();
    await trusts(B.page, A.name, "bad");
    assert.equal(await sealed(B.page, aId), n, "no key to a key swapped under a valid signature");
    // The 128-bit comparison: A reads B's device safety number in B's details; it is the one
    // B's own screen shows; marking it verified makes B's key checked automatically.
    await entry(A.page, B.name).click();
    const seen = await screen(A.page).locator(".gc-number").getAttribute("data-number");
    const own = await screen(B.page).locator(".gc-identity").getAttribute("data-number");
    assert.match(seen, /^(\d{5} ){7}\d{5}$/);
    assert.equal(seen, own);
    await screen(A.page).getByRole("button", { name: "Mark as verified" }).click();
    await trusts(A.page, B.name, "verified");
    for (const p of [A, B]) await p.ctx.close();
  });

  test("a participant with wrong keys decodes nothing; screen sharing reaches everyone", { timeout: 240000 }, async () => {
    const people = await crew(3);
    for (const p of people) await join(p);
    const [A, B, C] = people;
    await sees(C.page, A.name, "before-corrupt");
    // C's received keys are replaced by random ones: its decoding stops, failures count up
    await C.page.evaluate(() => window.__parleyGroupCall?.e2ee?.debugCorruptKeys());
    const s = screen(C.page);
    const failed0 = await attr(s, "decrypt-failed");
    await sleep(2500);
    const f1 = await attr(tile(C.page, A.name), "frames");
    await sleep(3000);
    const f2 = await attr(tile(C.page, A.name), "frames");
    assert.ok(f2 - f1 <= 5, `C still decodes A's video with wrong keys (${f1} -> ${f2})`);
    assert.ok(await attr(s, "decrypt-failed") > failed0 + 20, "C counts the frames it cannot decrypt");
    await sees(B.page, A.name, "others-unaffected");   // the others are unaffected
    // A shares a screen: B sees the presenter layout with A's share decoding
    await screen(A.page).getByRole("button", { name: "Share screen" }).click();
    await screen(B.page).and(B.page.locator(".presenting")).waitFor({ timeout: 20000 });
    const share = screen(B.page).locator(".gc-tile.presentation");
    const deadline = Date.now() + 30000;
    let frames = 0;
    while (Date.now() < deadline && (frames = await attr(share, "frames")) < 10) await sleep(1000);
    assert.ok(frames >= 10, `B decodes A's screen share (${frames} frames)`);
    await B.page.screenshot({ path: shotPath("groupcall-presenter.png") });
    for (const p of people) await p.ctx.close();
  });

  // "A subscriber only receives what it shows": on a small screen the grid scrolls, and a tile
  // wholly out of view, or one whose camera is off, is subscribed audio only.
  test("video flows only for the tiles a screen shows", { timeout: 240000 }, async () => {
    const people = await crew(3);
    const [A, B, C] = people;
    await C.page.setViewportSize({ width: 420, height: 400 });
    for (const p of people) await join(p);
    await tile(C.page, A.name).waitFor();
    await tile(C.page, B.name).waitFor();
    const grid = screen(C.page).locator(".gc-grid");
    const inView = () => grid.evaluate((g) => {
      const box = g.getBoundingClientRect();
      return [...g.querySelectorAll(".gc-tile")].filter((t) => {
        const r = t.getBoundingClientRect();
        return r.bottom > box.top && r.top < box.bottom;
      }).map((t) => t.dataset.name);
    });
    const shown = await inView();
    assert.equal(shown.length, 1, `at 420x400 one of the two tiles is out of the grid's view (${shown})`);
    const hidden = shown[0] === A.name ? B.name : A.name;
    await sees(C.page, shown[0], "in-view");
    await receiving(C.page, 1, "one tile in view");
    assert.equal(await attr(tile(C.page, hidden), "shown"), 0, "the tile out of view has no video slot");

    // Scrolled to the end, the other tile comes into view and decodes; the first goes out.
    // Back and forth: each swap hands the one video slot from one sender to the other, whose
    // stream must continue the slot's (the browser keeps one jitter buffer per SSRC).
    for (const [top, want] of [[1e6, hidden], [0, shown[0]], [1e6, hidden]]) {
      await grid.evaluate((g, t) => { g.scrollTop = t; }, top);
      await sleep(300);
      assert.deepEqual(await inView(), [want], `scrolled to ${top}, only ${want}'s tile is in view`);
      await sees(C.page, want, `scrolled-in-${want}`);
      await receiving(C.page, 1, `after scrolling to ${top}`);
    }
    assert.equal(await attr(tile(C.page, shown[0]), "shown"), 0, "the tile scrolled out lost its video slot");

    // Its owner turns the camera off: nothing shows, nothing flows; on again, it decodes again.
    const owner = people.find((p) => p.name === hidden);
    await screen(owner.page).getByRole("button", { name: "Camera off" }).click();
    await receiving(C.page, 0, "camera off");
    await screen(owner.page).getByRole("button", { name: "Camera on" }).click();
    await sees(C.page, hidden, "camera-on-again");
    for (const p of people) await p.ctx.close();
  });

  // Impairment. This kernel has no sch_netem (tc answers "Specified qdisc kind is unknown"), so
  // the loss is made by the SFU's --loss test hook: it drops LOSS % of the SRTP/SRTCP datagrams
  // it receives and of those it sends, which is what netem on the path would do to media.
  const LOSS = 5;
  test(`with ${LOSS} % of media lost each way, video keeps decoding and NACKs recover it`, { timeout: 240000 }, async () => {
    const lossy = await sfuWith("sfu-lossy", `--loss ${LOSS}`).start();
    try {
      const people = await crew(2, lossy);
      for (const p of people) await join(p);
      const [A, B] = people;
      await sees(A.page, B.name, "lossy-A");
      await sees(B.page, A.name, "lossy-B");
      const s0 = await videoStats(B.page);
      await sleep(10000);
      await sees(B.page, A.name, "lossy-B-later");   // still decoding after 10 s of loss
      const [sa, sb] = [await videoStats(A.page), await videoStats(B.page)];
      console.log("loss recovery: A", JSON.stringify(sa), "B", JSON.stringify(sb));
      // At least 5 frames a second over the 10 s: the fake camera's 30 drops to 7-25 here,
      // depending on how many keyframes the loss costs (PLIs), but never stops.
      assert.ok(sb.decoded > s0.decoded + 50, `B kept decoding A's video (${s0.decoded} -> ${sb.decoded} frames)`);
      for (const [who, st] of [["A", sa], ["B", sb]]) {
        assert.ok(st.nacksSent > 0, `${who} NACKed packets the SFU's loss took (${st.nacksSent})`);
        assert.ok(st.nacksReceived > 0, `${who} got NACKs from the SFU for what it lost on the way in (${st.nacksReceived})`);
        assert.ok(st.rtxSent > 0, `${who} retransmitted (${st.rtxSent})`);
      }
      // PLIs are printed, not asserted: a call without loss sends a few too (at start, on layer
      // switches), so their count does not show the loss.
      for (const p of people) await p.ctx.close();
    } finally {
      await lossy.stop();
      lossy.cleanup();
    }
  });
}

// Waits until exactly `want` of the page's inbound video streams are receiving (bytes rising
// over 2 s), for up to 20 s.
async function receiving(page, want, what) {
  const bytes = () => page.evaluate(async () => {
    const m = {};
    (await window.__parleyGroupCall.pc.getStats()).forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "video") m[s.ssrc] = s.bytesReceived ?? 0;
    });
    return m;
  });
  let n = -1;
  for (const deadline = Date.now() + 20000; Date.now() < deadline;) {
    const b0 = await bytes();
    await sleep(2000);
    const b1 = await bytes();
    n = Object.keys(b1).filter((k) => b1[k] > (b0[k] ?? 0)).length;
    if (n === want) return;
  }
  assert.fail(`${what}: ${n} video streams receiving, expected ${want}`);
}

// What getStats says about received and sent video on a page's call connection: loss
// recovery counters and the tallest frame received.
async function videoStats(page) {
  return page.evaluate(async () => {
    const r = { nacksSent: 0, plisSent: 0, lost: 0, decoded: 0, height: 0, nacksReceived: 0, plisReceived: 0, rtxSent: 0 };
    (await window.__parleyGroupCall.pc.getStats()).forEach((s) => {
      if (s.kind !== "video") return;
      if (s.type === "inbound-rtp") {
        r.nacksSent += s.nackCount ?? 0; r.plisSent += s.pliCount ?? 0;
        r.lost += s.packetsLost ?? 0; r.decoded += s.framesDecoded ?? 0;
        r.height = Math.max(r.height, s.frameHeight ?? 0);
      } else if (s.type === "outbound-rtp") {
        r.nacksReceived += s.nackCount ?? 0; r.plisReceived += s.pliCount ?? 0;
        r.rtxSent += s.retransmittedPacketsSent ?? 0;
      }
    });
    return r;
  });
}
