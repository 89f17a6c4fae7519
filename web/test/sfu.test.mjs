// sfu.test.mjs: the SFU media plane (parley-sfu, issue 7 part 1) against real Chromium. The
// test drives parley-sfu over its control socket (proto/sfu.proto, compiled here with protoc
// + protoc-gen-es, as build.mjs does for parley.proto), gives it a Chromium offer with three
// simulcast layers, hands the SFU's answer back to Chromium and checks that ICE-lite, DTLS-SRTP
// and SRTP work with a real browser: the peer connection connects, the SFU reports the
// participant CONNECTED and receives its audio and video. Loopback only: the SFU binds
// 127.0.0.1 and its answer names only that candidate. The media here is not SFrame-encrypted,
// so what the SFU's --capture hook records must decode to pictures without any key: the
// control for groupcall.test.mjs, where the same check on encrypted media finds nothing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";
import { ROOT, BIN } from "./harness.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function loadSchema() {
  const out = join(ROOT, "web", "node_modules", ".cache", "parley-sfu-gen");
  mkdirSync(out, { recursive: true });
  execFileSync("protoc", [
    `--plugin=protoc-gen-es=${join(ROOT, "web", "node_modules", ".bin", "protoc-gen-es")}`,
    `--es_out=${out}`, "--es_opt=target=js,import_extension=js", `-I${join(ROOT, "proto")}`,
    join(ROOT, "proto", "sfu.proto")]);
  const gen = await import(pathToFileURL(join(out, "sfu_pb.js")).href);
  const pb = await import("@bufbuild/protobuf");
  return { gen, pb };
}

// One control connection: length-prefixed ToSfu out, FromSfu in (responses and events).
class Control {
  constructor(sock, schema) {
    this.schema = schema;
    this.buf = Buffer.alloc(0);
    this.waiters = new Map();
    this.events = [];
    this.nextId = 1n;
    this.conn = createConnection(sock);
    this.conn.on("data", (d) => this.onData(d));
  }
  onData(d) {
    const { gen, pb } = this.schema;
    this.buf = Buffer.concat([this.buf, d]);
    while (this.buf.length >= 4) {
      const len = this.buf.readUInt32BE(0);
      if (this.buf.length < 4 + len) break;
      const m = pb.fromBinary(gen.FromSfuSchema, this.buf.subarray(4, 4 + len));
      this.buf = this.buf.subarray(4 + len);
      if (m.msg.case === "response") this.waiters.get(m.msg.value.id)?.(m.msg.value);
      else if (m.msg.case === "event") this.events.push(m.msg.value);
    }
  }
  call(op) {
    const { gen, pb } = this.schema;
    const id = this.nextId++;
    const bytes = pb.toBinary(gen.ToSfuSchema, pb.create(gen.ToSfuSchema, { id, op }));
    const head = Buffer.alloc(4);
    head.writeUInt32BE(bytes.length);
    return new Promise((res, rej) => {
      const t = setTimeout(() => rej(new Error("control timeout")), 5000);
      this.waiters.set(id, (r) => { clearTimeout(t); this.waiters.delete(id); res(r); });
      this.conn.write(Buffer.concat([head, Buffer.from(bytes)]));
    });
  }
}

async function startSfu(dir) {
  const sock = join(dir, "ctl.sock");
  const proc = spawn(join(BIN, "parley-sfu"), ["--control", sock, "--port", "0", "--capture", join(dir, "cap.rtp")],
    { stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  proc.stderr.on("data", (d) => { log += d; });
  const line = await new Promise((res, rej) => {
    let out = "";
    const t = setTimeout(() => rej(new Error(`parley-sfu did not start: ${log}`)), 10000);
    proc.stdout.on("data", (d) => {
      out += d;
      if (out.includes("\n")) { clearTimeout(t); res(out.split("\n")[0]); }
    });
  });
  assert.match(line, /^parley-sfu udp 127\.0\.0\.1 \d+ fingerprint [0-9A-F:]{95}$/);
  return { proc, sock, log: () => log };
}

test("Chromium publishes audio and 3-layer simulcast video to parley-sfu", { timeout: 60000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "parley-sfu-web-"));
  const schema = await loadSchema();
  const sfu = await startSfu(dir);
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium",
    args: ["--allow-loopback-in-peer-connection", "--use-fake-ui-for-media-stream"] });
  try {
    const ctl = new Control(sfu.sock, schema);
    let r = await ctl.call({ case: "createRoom", value: { room: 1 } });
    assert.equal(r.ok, true, r.error);
    const page = await browser.newPage();
    await page.goto("about:blank");
    const offer = await page.evaluate(async () => {
      const c = document.createElement("canvas");
      c.width = 1280; c.height = 720;
      const g = c.getContext("2d");
      let n = 0;
      setInterval(() => { g.fillStyle = `hsl(${(n++ * 7) % 360} 80% 50%)`; g.fillRect(0, 0, 1280, 720); }, 33);
      const ac = new AudioContext();
      const osc = ac.createOscillator();
      const dst = ac.createMediaStreamDestination();
      osc.connect(dst); osc.start();
      const pc = new RTCPeerConnection();
      window.pc = pc;
      pc.addTransceiver(dst.stream.getAudioTracks()[0], { direction: "sendonly" });
      pc.addTransceiver(c.captureStream(30).getVideoTracks()[0], { direction: "sendonly",
        sendEncodings: [{ rid: "q", scaleResolutionDownBy: 4 }, { rid: "h", scaleResolutionDownBy: 2 }, { rid: "f" }] });
      await pc.setLocalDescription(await pc.createOffer());
      return pc.localDescription.sdp;
    });
    r = await ctl.call({ case: "addParticipant", value: { room: 1, participant: 7, offerSdp: offer } });
    assert.equal(r.ok, true, r.error);
    assert.match(r.answerSdp, /a=ice-lite/);
    assert.match(r.answerSdp, /a=simulcast:recv q;h;f/);
    await page.evaluate(async (sdp) => { await window.pc.setRemoteDescription({ type: "answer", sdp }); }, r.answerSdp);
    await page.waitForFunction(() => window.pc.connectionState === "connected", null, { timeout: 15000 });
    // The SFU saw ICE + DTLS finish, and receives (decrypts) the browser's media.
    let state;
    for (let i = 0; i < 100; i++) {
      r = await ctl.call({ case: "roomState", value: { room: 1 } });
      state = r.participants.find((p) => p.participant === 7);
      if (state && state.connected && state.publishingAudio && state.videoLayers >= 1 && state.rxPackets > 100n) break;
      await sleep(100);
    }
    assert.ok(ctl.events.some((e) => e.kind === schema.gen.Event_Kind.CONNECTED && e.participant === 7),
      "CONNECTED event");
    console.log(`sfu state: connected ${state.connected} audio ${state.publishingAudio} layers ${state.videoLayers} rx ${state.rxPackets}`);
    assert.equal(state.connected, true);
    assert.equal(state.publishingAudio, true);
    assert.ok(state.videoLayers >= 1, `video layers seen: ${state.videoLayers}`);
    assert.ok(state.rxPackets > 100n, `rx ${state.rxPackets}`);
    // A bad offer is refused and changes nothing.
    r = await ctl.call({ case: "addParticipant", value: { room: 1, participant: 9, offerSdp: "v=0\r\nbad" } });
    assert.equal(r.ok, false);
    r = await ctl.call({ case: "roomState", value: { room: 1 } });
    assert.equal(r.participants.length, 1);

    // A second browser receives: recvonly audio + video; the SFU answers with its SSRCs on
    // them, forwards the publisher's streams (asking it for a keyframe) and the browser decodes.
    const sub = await browser.newPage();
    await sub.goto("about:blank");
    const offer2 = await sub.evaluate(async () => {
      const pc = new RTCPeerConnection();
      window.pc = pc;
      pc.addTransceiver("audio", { direction: "recvonly" });
      pc.addTransceiver("video", { direction: "recvonly" });
      await pc.setLocalDescription(await pc.createOffer());
      return pc.localDescription.sdp;
    });
    r = await ctl.call({ case: "addParticipant", value: { room: 1, participant: 8, offerSdp: offer2 } });
    assert.equal(r.ok, true, r.error);
    assert.match(r.answerSdp, /a=sendonly\r\n/);
    await sub.evaluate(async (sdp) => { await window.pc.setRemoteDescription({ type: "answer", sdp }); }, r.answerSdp);
    await sub.waitForFunction(() => window.pc.connectionState === "connected", null, { timeout: 15000 });
    r = await ctl.call({ case: "subscribe", value: { subscriber: 8, publisher: 7, maxHeight: 720 } });
    assert.equal(r.ok, true, r.error);
    let got = {};
    for (let i = 0; i < 100; i++) {
      got = await sub.evaluate(async () => {
        const out = { audio: 0, video: 0, frames: 0 };
        (await window.pc.getStats()).forEach((s) => {
          if (s.type !== "inbound-rtp") return;
          if (s.kind === "audio") out.audio = s.packetsReceived;
          if (s.kind === "video") { out.video = s.packetsReceived; out.frames = s.framesDecoded || 0; }
        });
        return out;
      });
      if (got.audio > 20 && got.frames > 5) break;
      await sleep(100);
    }
    console.log(`subscriber stats: ${JSON.stringify(got)}`);
    assert.ok(got.audio > 20, "subscriber receives audio");
    assert.ok(got.frames > 5, "subscriber decodes video frames");

    // The SFU's transport-wide congestion feedback lets the publisher's bandwidth estimate
    // rise past its start value, and it turns on its upper simulcast layers (all three on a
    // quiet machine; the 720-line one needs ~1.5 Mbit/s, which an ASan build under load may
    // take longer to reach).
    let bwe = 0;
    // (Chromium starts at 300 kbit/s; without feedback it falls to ~80 and sends one layer.)
    for (let i = 0; i < 200; i++) {
      r = await ctl.call({ case: "roomState", value: { room: 1 } });
      state = r.participants.find((p) => p.participant === 7);
      bwe = await page.evaluate(async () => {
        let b = 0;
        (await window.pc.getStats()).forEach((s) => {
          if (s.type === "candidate-pair" && s.nominated) b = s.availableOutgoingBitrate ?? 0;
        });
        return b;
      });
      if (state.videoLayers >= 2 && bwe > 600000) break;
      await sleep(200);
    }
    console.log(`publisher: layers ${state.videoLayers}, estimated bandwidth ${Math.round(bwe / 1000)} kbit/s`);
    assert.ok(state.videoLayers >= 2, `the publisher sends more than its lowest layer (${state.videoLayers})`);
    assert.ok(bwe > 600000, `its bandwidth estimate rose (${bwe} bit/s)`);
    ctl.conn.destroy();

    await sleep(1200);   // the capture is flushed once a second
    const mc = spawnSync(join(BIN, "..", "tests", "media_check"), [join(dir, "cap.rtp"), "--clear"], { timeout: 60000 });
    const out = mc.stdout?.toString() ?? "";
    console.log(`media_check --clear: ${out.trim()}`);
    const m = Object.fromEntries([...out.matchAll(/(\w+) (\d+)/g)].map((x) => [x[1], Number(x[2])]));
    assert.equal(mc.status, 0, `media_check failed: ${mc.stderr}`);
    assert.ok(m.pictures > 50 && m.pictures > m.frames * 0.8,
      `unencrypted video captured at the SFU decodes to pictures (${m.pictures} of ${m.frames})`);
  } finally {
    await browser.close();
    sfu.proc.kill("SIGTERM");
    await new Promise((res) => sfu.proc.exitCode !== null ? res() : sfu.proc.on("exit", res));
    assert.doesNotMatch(sfu.log(), /AddressSanitizer|LeakSanitizer|runtime error:/);
    rmSync(dir, { recursive: true, force: true });
  }
});
