// rnnoise.test.mjs: the RNNoise noise-suppression option of group calls (web/src/noise.ts,
// web/src/rnnoise_worklet.ts), end to end in Chromium against a real parleyd:
//  1. the built worklet and rnnoise.wasm, loaded in a page that parleyd serves (so its real
//     Content-Security-Policy and MIME types apply), denoise: rendered in an OfflineAudioContext,
//     white noise loses > 10 dB and a speech-like signal in noise keeps its "speech" while the
//     noise between the syllables loses > 10 dB. A pass-through worklet fails both.
//  2. in a real two-person group call (parleyd + parley-sfu, SFrame on), choosing RNNoise puts
//     the worklet's track (not the mic) on the audio sender, outbound audio keeps flowing and
//     the other side keeps receiving and decrypting it; choosing "browser" puts the mic back.
//
// Like groupcall.test.mjs, it runs in a network namespace with only loopback (`unshare --net`,
// `ip link set lo up`): run normally, the file re-executes itself inside one and reports the
// inner run as one test.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Server, httpsRequest, launch, person, register, openChat, shotPath, sleep, inLoopbackNamespace } from "./harness.mjs";

inLoopbackNamespace(import.meta.url, "RNNoise", defineTests);

// Runs in the page: renders `seconds` of two test signals through the "rnnoise" worklet (made
// by the app's own loader, window.__parleyRnnoiseNode) and returns energies in dB.
async function denoiseInPage(seconds) {
  const SR = 48000, N = SR * seconds;
  let seed = 12345;
  const rand = () => { seed = (seed * 1103515245 + 12345) >>> 0; return seed / 4294967296; };
  const white = (rms) => { const a = new Float32Array(N), k = rms * Math.sqrt(3);
    for (let i = 0; i < N; i++) a[i] = (rand() * 2 - 1) * k; return a; };

  // Speech-like: a glottal pulse train (pitch gliding 100-140 Hz) through three formant
  // resonators that change vowel every 200 ms syllable, in 1 s phrases with 1 s pauses after
  // 3 s of noise alone (RNNoise learns the noise over the first seconds, as it would at the
  // start of a call).
  const vowels = [[730, 1090, 2440], [270, 2290, 3010], [300, 870, 2240], [530, 1840, 2480]];
  const talking = (t) => t >= 3 && Math.floor(t) % 2 === 1;  // 3-4 s, 5-6 s, ...
  const speech = new Float32Array(N);
  const ys = vowels[0].map(() => [0, 0]);
  let phase = 0;
  for (let i = 0; i < N; i++) {
    const t = i / SR;
    const f0 = 120 + 20 * Math.sin(2 * Math.PI * 0.7 * t);
    phase += f0 / SR;
    let x = 0;
    if (phase >= 1) { phase -= 1; x = 1; }
    const syl = Math.floor(t / 0.2), v = vowels[syl % vowels.length];
    const env = talking(t) ? Math.sin(Math.PI * ((t / 0.2) % 1)) ** 0.5 : 0;
    let y = 0;
    for (let k = 0; k < 3; k++) {
      const r = Math.exp(-Math.PI * 90 / SR), a1 = 2 * r * Math.cos(2 * Math.PI * v[k] / SR), a2 = -r * r;
      const yk = x * env + a1 * ys[k][0] + a2 * ys[k][1];
      ys[k][1] = ys[k][0]; ys[k][0] = yk;
      y += yk / (k + 1);
    }
    speech[i] = y;
  }
  let sq = 0, cnt = 0;
  for (let i = 0; i < N; i++) if (talking(i / SR)) { sq += speech[i] ** 2; cnt++; }
  const g = 0.1 / Math.sqrt(sq / cnt);                       // speech at -20 dBFS RMS
  const noise2 = white(0.02);                                // noise at -34 dBFS: SNR 14 dB
  const noisy = speech.map((s, i) => s * g + noise2[i]);

  const render = async (input) => {
    const ctx = new OfflineAudioContext(1, N, SR);
    const node = await window.__parleyRnnoiseNode(ctx);
    const buf = ctx.createBuffer(1, N, SR);
    buf.copyToChannel(input, 0);
    const src = ctx.createBufferSource();
    src.buffer = buf;
    src.connect(node).connect(ctx.destination);
    src.start();
    return (await ctx.startRendering()).getChannelData(0);
  };
  // Mean energy in dB from `from` seconds on where keep(t), skipping 150 ms after each edge of
  // a phrase (RNNoise's gains ramp, and the worklet adds ~20 ms of latency). Measured from 3 s
  // on: the first seconds are RNNoise learning the noise.
  const db = (a, keep, from = 3) => {
    let s = 0, c = 0;
    for (let i = Math.floor(from * SR); i < N; i++) {
      const t = i / SR;
      if (!keep(t) || t % 1 < 0.15) continue;
      s += a[i] * a[i]; c++;
    }
    return 10 * Math.log10(s / c + 1e-20);
  };
  const all = () => true;
  const noise1 = white(0.05);
  const out1 = await render(noise1);
  const out2 = await render(noisy);
  const speechOnly = speech.map((s) => s * g);
  return {
    whiteIn: db(noise1, all), whiteOut: db(out1, all),
    speechIn: db(speechOnly, talking), talkOut: db(out2, talking), talkIn: db(noisy, talking),
    pauseIn: db(noisy, (t) => !talking(t)), pauseOut: db(out2, (t) => !talking(t)),
  };
}

function defineTests() {
  const PW = "correct horse battery";
  let n = 0;
  const uname = (p) => `${p}${process.pid % 10000}x${n++}`;
  let server, browser;

  before(async () => {
    server = await new Server("sfu_bind = 127.0.0.1\n").start();
    browser = await launch(["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
      "--allow-loopback-in-peer-connection", "--autoplay-policy=no-user-gesture-required"]);
  });

  after(async () => {
    await browser?.close();
    try { await server?.stop(); } finally { server?.cleanup(); }
  });

  test("the built RNNoise worklet denoises under parleyd's CSP", { timeout: 120000 }, async () => {
    const wasm = await httpsRequest(server.port, "/rnnoise.wasm");
    assert.equal(wasm.status, 200);
    assert.equal(wasm.headers["content-type"], "application/wasm");
    assert.match(wasm.headers["content-security-policy"], /script-src 'self' 'wasm-unsafe-eval';/);
    assert.equal(wasm.body.subarray(0, 4).toString("latin1"), "\0asm");

    const { ctx, page } = await person(browser, server);
    await page.waitForFunction(() => typeof window.__parleyRnnoiseNode === "function");
    const r = await page.evaluate(denoiseInPage, 8);
    const f = (x) => x.toFixed(1);
    console.log(`white noise ${f(r.whiteIn)} -> ${f(r.whiteOut)} dB; speech-like in noise: phrases ` +
      `${f(r.talkIn)} -> ${f(r.talkOut)} dB (clean speech ${f(r.speechIn)}), pauses ` +
      `${f(r.pauseIn)} -> ${f(r.pauseOut)} dB`);
    assert.ok(r.whiteIn - r.whiteOut > 10, `white noise drops by > 10 dB (${f(r.whiteIn - r.whiteOut)})`);
    assert.ok(r.pauseIn - r.pauseOut > 10, `the noise between phrases drops by > 10 dB (${f(r.pauseIn - r.pauseOut)})`);
    assert.ok(r.talkOut > r.speechIn - 6, `the speech is kept (${f(r.talkOut)} vs clean ${f(r.speechIn)} dB)`);
    assert.ok((r.talkOut - r.pauseOut) - (r.talkIn - r.pauseIn) > 10,
      "the phrase-to-pause ratio improves by > 10 dB");
    assert.deepEqual(page.errors, [], "no page error or CSP violation");
    await ctx.close();
  });

  const screen = (page) => page.locator("section.groupcall");
  const attr = async (loc, name) => Number(await loc.getAttribute(`data-${name}`));

  // Two people in a group, both in its call, each hearing the other.
  async function pair() {
    const people = [];
    for (let i = 0; i < 2; i++) {
      const p = await person(browser, server);
      p.name = uname("rn");
      await register(p.page, p.name, PW);
      people.push(p);
    }
    const [A, B] = people;
    await A.page.getByRole("button", { name: "New group" }).click();
    const d = A.page.getByRole("dialog");
    await d.getByLabel("Group title").fill("Quiet");
    await d.getByLabel(/Members/).fill(B.name);
    await d.getByRole("button", { name: "Create group" }).click();
    await A.page.getByRole("heading", { name: /Quiet/ }).waitFor();
    await openChat(B.page, "Quiet");
    for (const p of people) {
      await p.page.locator(".chat-head .gc-btn").click();
      await screen(p.page).locator(".gc-controls").getByRole("button", { name: "Leave" }).waitFor({ timeout: 20000 });
    }
    return people;
  }

  // The sender's audio track id, the mic's, and outbound audio bytes (A's side).
  const senderState = (page) => page.evaluate(async () => {
    const c = window.__parleyGroupCall;
    const sender = c.pc.getSenders().find((s) => s.track?.kind === "audio");
    let bytesSent = 0;
    (await sender.getStats()).forEach((s) => { if (s.type === "outbound-rtp") bytesSent += s.bytesSent; });
    return { track: sender.track.id, live: sender.track.readyState, mic: c.local.getAudioTracks()[0].id,
      noise: c.noise, bytesSent };
  });
  // Inbound audio packets (B's side), over all its audio slots.
  const inbound = (page) => page.evaluate(async () => {
    let packets = 0;
    (await window.__parleyGroupCall.pc.getStats()).forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "audio") packets += s.packetsReceived;
    });
    return packets;
  });

  async function flowing(A, B, label) {
    const a0 = await senderState(A.page), b0 = await inbound(B.page), d0 = await attr(screen(B.page), "decrypted");
    await sleep(3000);
    const a1 = await senderState(A.page), b1 = await inbound(B.page), d1 = await attr(screen(B.page), "decrypted");
    console.log(`${label}: A sent ${a1.bytesSent - a0.bytesSent} audio bytes, B received ` +
      `${b1 - b0} audio packets, B decrypted ${d1 - d0} frames in 3 s`);
    assert.ok(a1.bytesSent - a0.bytesSent > 3000, `${label}: A's outbound audio flows`);
    assert.ok(b1 - b0 > 50, `${label}: B receives A's audio (${b1 - b0} packets in 3 s)`);
    assert.ok(d1 - d0 > 50, `${label}: B decrypts A's frames`);
    return a1;
  }

  test("choosing RNNoise in a call sends the worklet's track; audio keeps flowing", { timeout: 240000 }, async () => {
    const [A, B] = await pair();
    const sel = screen(A.page).getByLabel("Noise suppression");
    assert.equal(await sel.inputValue(), "browser");
    await B.page.waitForFunction(() => [...document.querySelectorAll(".gc-tile")]
      .some((t) => Number(t.dataset.audioBytes) > 2000), null, { timeout: 30000 });
    const before = await flowing(A, B, "browser");
    assert.equal(before.track, before.mic, "the mic is sent at first");
    const failed0 = await attr(screen(B.page), "decrypt-failed");   // frames before the keys came

    await sel.selectOption("rnnoise");
    await A.page.waitForFunction(() => {
      const c = window.__parleyGroupCall;
      const s = c.pc.getSenders().find((x) => x.track?.kind === "audio");
      return s && s.track.id !== c.local.getAudioTracks()[0].id;
    }, null, { timeout: 10000 });
    const during = await flowing(A, B, "rnnoise");
    assert.notEqual(during.track, during.mic, "the worklet's track replaced the mic on the sender");
    assert.equal(during.live, "live");
    assert.equal(during.noise, "rnnoise");
    const failed = await attr(screen(B.page), "decrypt-failed");
    assert.equal(failed, failed0, "B decrypts every new frame (SFrame still applies to the new track)");
    // Redrawn controls (e.g. after a mute) keep showing the choice.
    await screen(A.page).getByRole("button", { name: "Mute" }).click();
    await screen(A.page).getByRole("button", { name: "Unmute" }).click();
    assert.equal(await screen(A.page).getByLabel("Noise suppression").inputValue(), "rnnoise");
    await A.page.screenshot({ path: shotPath("rnnoise-call.png") });

    await screen(A.page).getByLabel("Noise suppression").selectOption("browser");
    await A.page.waitForFunction(() => {
      const c = window.__parleyGroupCall;
      const s = c.pc.getSenders().find((x) => x.track?.kind === "audio");
      return s && s.track.id === c.local.getAudioTracks()[0].id;
    }, null, { timeout: 10000 });
    const back = await flowing(A, B, "back to browser");
    assert.equal(back.track, back.mic, "the mic is sent again");
    assert.deepEqual(A.page.errors, [], "no page error or CSP violation on A");
    for (const p of [A, B]) await p.ctx.close();
  });
}
