// sframe_worker.ts: the RTCRtpScriptTransform worker of group calls (built to
// dist/sframe_worker.js). Every encoded frame a sender produces is SFrame-protected here
// before packetisation, every received frame is checked and decrypted before decoding;
// a frame that fails (no key for its KID, wrong key, tampered) is dropped, never passed on.
//
// Messages from the page (gc_e2ee.ts):
//   {type: "key", kid, base}      a base key (16 bytes) for KID: derive and keep it
//   {type: "send", kid}           protect from now on under KID (its key was sent first)
//   {type: "forget", kid}         drop a key (an old epoch)
//   {type: "corrupt"}             TEST HOOK: replace every receive key by a random one
// It posts {type: "stats", encrypted, decrypted, failed, noKey} once a second.
//
// VP8 keeps its frame tag (3 bytes) and, on keyframes, the start code and size (7 more) in
// the clear: the SFU reads the keyframe bit and the size (docs/GROUP_CALLS.md). Opus frames
// are encrypted whole.
import { decrypt, deriveKey, encrypt, peek, type SframeKey } from "./sframe";

/* eslint-disable @typescript-eslint/no-explicit-any */
const scope: any = self;
const keys = new Map<bigint, SframeKey>();
let sendKid: bigint | null = null;
let ctr = 0n;
const stats = { type: "stats", encrypted: 0, decrypted: 0, failed: 0, noKey: 0, transforms: 0, err: "" };

scope.onmessage = async (e: MessageEvent) => {
  const m = e.data;
  if (m.type === "key") keys.set(BigInt(m.kid), await deriveKey(new Uint8Array(m.base), BigInt(m.kid)));
  else if (m.type === "send") sendKid = BigInt(m.kid);
  else if (m.type === "forget") keys.delete(BigInt(m.kid));
  else if (m.type === "streams") pipe({ readable: m.readable, writable: m.writable, options: m.options });
  else if (m.type === "corrupt") {
    for (const kid of keys.keys())
      if (kid !== sendKid) keys.set(kid, await deriveKey(crypto.getRandomValues(new Uint8Array(16)), kid));
  }
};
setInterval(() => scope.postMessage(stats), 1000);

function clearBytes(frame: any, kind: string): number {
  if (kind !== "video") return 0;
  return frame.type === "key" ? 10 : 3;
}

async function protect(frame: any, kind: string, out: any): Promise<void> {
  if (sendKid === null) return;           // no key yet: send nothing rather than plaintext
  const k = keys.get(sendKid);
  if (!k) return;
  const data = new Uint8Array(frame.data);
  frame.data = (await encrypt(k, sendKid, ctr++, data, clearBytes(frame, kind))).buffer;
  stats.encrypted++;
  out.enqueue(frame);
}

async function unprotect(frame: any, kind: string, out: any): Promise<void> {
  const data = new Uint8Array(frame.data);
  const clear = clearBytes(frame, kind);
  const p = peek(data, clear);
  const k = p ? keys.get(p.kid) : undefined;
  if (!k) { stats.noKey++; return; }
  try {
    frame.data = (await decrypt(k, data, clear)).buffer;
  } catch {
    stats.failed++;
    return;
  }
  stats.decrypted++;
  out.enqueue(frame);
}

function pipe(t: { readable: any; writable: any; options: { role: string; kind: string } }): void {
  stats.transforms++;
  const { role, kind } = t.options;
  const step = role === "send" ? protect : unprotect;
  t.readable.pipeThrough(new TransformStream({
    transform: (frame: any, out: any) => step(frame, kind, out).catch((e) => { stats.err = String(e); }),
  })).pipeTo(t.writable).catch((e: unknown) => { stats.err = "pipe " + String(e); });
}

// Chromium hands encoded frames either as RTCRtpScriptTransform events or, with
// encodedInsertableStreams, as streams the page transfers here ({type: "streams"}).
scope.onrtctransform = (event: any) => pipe(event.transformer);
