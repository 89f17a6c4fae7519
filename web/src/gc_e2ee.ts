// gc_e2ee.ts: end-to-end encryption of a group call's media (docs/GROUP_CALLS.md, section 2).
//
// Every participant makes an X25519 key pair for the call and publishes the public half in
// its Join. Every sender has a 16-byte base key per epoch; SFrame (sframe.ts) derives the
// frame keys from it. A sender seals its base key to each other participant:
//   shared = X25519(own private, their public)
//   wrap   = HKDF-SHA-256(shared, salt = call_id(8) || from(4) || to(4), "parley-gc-seal-v1")
//   sealed = 0x01 || nonce(12) || AES-128-GCM(wrap, nonce, epoch(4) || base(16),
//                                             AD = "parley-gc-key-v1" || call || from || to)
// so the server, which relays `sealed`, learns nothing, and a sealed key moved to another
// sender, recipient or call does not open.
// Epochs: someone joins -> every sender's key advances, base' = HKDF(base, "parley-gc-advance")
// (sealed to everyone, the newcomer included: it gets the advanced key only, so it cannot
// decrypt what was said before; the others also derive it); someone leaves -> each sender makes a fresh random key sealed to those
// still in (the leaver cannot decrypt what follows). A sender switches to a new key
// APPLY_DELAY ms after sending it, so receivers have it first; receivers keep older epochs.
// The membership emoji: SHA-256("parley-gc-members-v1" || call_id || for each participant by
// id: id(4) || user(8) || public key(32)), its first 4 bytes indexing the 256-emoji table.
// They are an aid (who is in the call), not the security check: 32 bits can be matched by a
// server that tries keys. The members given here are only those whose signed call keys the
// caller trusts (groupcall.ts), and only they get keys.
//
// Ownership: a CallE2EE owns its key pair, the keys it knows and its transform workers
// (close() stops them).
import { EMOJI } from "./call_verify";

export interface Member {
  participantId: number;
  userId: bigint;
  callKey: Uint8Array;
  presentationOf: number;
}
export interface KeyBatch { epoch: number; keys: { to: number; sealed: Uint8Array }[]; }
export interface E2EEStats {
  encrypted: number; decrypted: number; failed: number; noKey: number;   // frames
  keysOpened: number; keysRefused: number;                              // sealed keys
}

const enc = new TextEncoder();
const KEEP_EPOCHS = 4;

function u32(v: number): Uint8Array { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, v); return b; }
export function u64(v: bigint): Uint8Array { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, v); return b; }
export function cat(...p: Uint8Array[]): Uint8Array {
  const o = new Uint8Array(p.reduce((n, x) => n + x.length, 0));
  let off = 0;
  for (const x of p) { o.set(x, off); off += x.length; }
  return o;
}

async function hkdfBytes(ikm: Uint8Array, salt: Uint8Array, info: string, bytes: number): Promise<Uint8Array> {
  const k = await crypto.subtle.importKey("raw", ikm as BufferSource, "HKDF", false, ["deriveBits"]);
  return new Uint8Array(await crypto.subtle.deriveBits({ name: "HKDF", hash: "SHA-256",
    salt: salt as BufferSource, info: enc.encode(info) }, k, bytes * 8));
}

// The peer connections are made with encodedInsertableStreams (PC_CONFIG): Chromium 156 runs
// an RTCRtpScriptTransform's worker but did not pass it frames in our tests, while the
// encoded streams, transferred to the same worker, work.
export const PC_CONFIG = { bundlePolicy: "max-bundle", rtcpMuxPolicy: "require",
  encodedInsertableStreams: true } as RTCConfiguration;

type Endpoint = { createEncodedStreams?: () => { readable: ReadableStream; writable: WritableStream } };
function attach(w: Worker, x: RTCRtpSender | RTCRtpReceiver, options: { role: string; kind: string }): void {
  const e = x as unknown as Endpoint;
  if (e.createEncodedStreams) {
    const { readable, writable } = e.createEncodedStreams();
    w.postMessage({ type: "streams", readable, writable, options }, [readable as unknown as Transferable, writable as unknown as Transferable]);
  } else {
    x.transform = new RTCRtpScriptTransform(w, options);
  }
}

export function kidOf(participant: number, epoch: number): bigint {
  return (BigInt(participant) << 8n) | BigInt(epoch & 0xff);
}

export class CallE2EE {
  private self = 0;
  private callId = 0n;
  private members: Member[] = [];
  private own: { epoch: number; base: Uint8Array } = { epoch: 0, base: new Uint8Array(16) };
  // Per sender: the newest epoch it sent us (auth), joins seen since (ahead), and the keys:
  // sealed ones, plus the chain advanced from the newest sealed one (see install()).
  private known = new Map<number, { auth: number; ahead: number; keys: Map<number, Uint8Array> }>();
  private workers: Worker[] = [];
  private sendWorkers = new Map<number, Worker>();             // participant id sent as
  private totals = new Map<Worker, E2EEStats>();
  private timers: number[] = [];
  private early: { from: number; epoch: number; sealed: Uint8Array }[] = [];
  private keysOpened = 0;
  private keysRefused = 0;
  private sealedTo = new Map<number, number>();   // participant id -> keys sealed to it

  private constructor(private keyPair: CryptoKeyPair, readonly publicKey: Uint8Array,
                      private applyDelayMs: number) {}

  static async create(opts: { applyDelayMs?: number } = {}): Promise<CallE2EE> {
    const kp = await crypto.subtle.generateKey({ name: "X25519" }, false, ["deriveBits"]) as CryptoKeyPair;
    const pub = new Uint8Array(await crypto.subtle.exportKey("raw", kp.publicKey));
    const e = new CallE2EE(kp, pub, opts.applyDelayMs ?? 1000);
    crypto.getRandomValues(e.own.base);
    return e;
  }

  // After GroupCallJoined: our id, and the call the seals are bound to.
  setSelf(participantId: number, callId: bigint): void {
    this.self = participantId;
    this.callId = callId;
    void this.install(participantId, 0, this.own.base);
    this.startSending();
  }

  private worker(): Worker {
    const w = new Worker("sframe_worker.js", { type: "module" });
    w.onmessage = (e) => { if (e.data?.type === "stats") this.totals.set(w, e.data); };
    for (const [from, k] of this.known) for (const [ep, base] of k.keys) this.post(w, from, ep, base);
    this.workers.push(w);
    return w;
  }

  private post(w: Worker, from: number, epoch: number, base: Uint8Array): void {
    w.postMessage({ type: "key", kid: kidOf(from, epoch).toString(), base });
    for (const m of this.members)   // a presentation uses its owner's keys under its own KID
      if (m.presentationOf === from) w.postMessage({ type: "key", kid: kidOf(m.participantId, epoch).toString(), base });
  }

  // A sender's key for `epoch`, then the chain advanced from the newest sealed key up to
  // ahead + 2 epochs beyond it: a join advances keys without sending them to those already
  // in, and a receiver whose copy of the previous key was still on its way must still follow.
  // A random (rotated) key always comes sealed and replaces a derived guess for its epoch.
  private async install(from: number, epoch: number, base: Uint8Array, sealed = true): Promise<void> {
    let k = this.known.get(from);
    if (!k) this.known.set(from, k = { auth: epoch, ahead: 0, keys: new Map() });
    if (sealed && epoch >= k.auth) { k.auth = epoch; k.ahead = 0; }
    this.put(from, k.keys, epoch, base);
    await this.extend(from);
  }

  private put(from: number, keys: Map<number, Uint8Array>, epoch: number, base: Uint8Array): void {
    keys.set(epoch, base);
    for (const w of this.workers) this.post(w, from, epoch, base);
  }

  private async extend(from: number): Promise<void> {
    const k = this.known.get(from);
    if (!k || from === this.self) return;
    let base = k.keys.get(k.auth)!;
    for (let ep = k.auth + 1; ep <= k.auth + k.ahead + 2; ep++) {
      base = await this.advance(base);
      if (!k.keys.has(ep)) this.put(from, k.keys, ep, base);
    }
    for (const old of [...k.keys.keys()].filter((e) => e < k.auth - KEEP_EPOCHS)) k.keys.delete(old);
  }

  private startSending(): void {
    for (const [pid, w] of this.sendWorkers) w.postMessage({ type: "send", kid: kidOf(pid, this.own.epoch).toString() });
  }

  encryptSender(sender: RTCRtpSender, participantId: number, kind: string): void {
    let w = this.sendWorkers.get(participantId);
    if (!w) {
      this.sendWorkers.set(participantId, w = this.worker());
      w.postMessage({ type: "key", kid: kidOf(participantId, this.own.epoch).toString(), base: this.own.base });
      w.postMessage({ type: "send", kid: kidOf(participantId, this.own.epoch).toString() });
    }
    attach(w, sender, { role: "send", kind });
  }

  private recvWorker: Worker | null = null;
  decryptReceiver(receiver: RTCRtpReceiver, kind: string): void {
    if (!this.recvWorker) this.recvWorker = this.worker();
    attach(this.recvWorker, receiver, { role: "recv", kind });
  }

  private async wrapKey(peer: Uint8Array, from: number, to: number): Promise<CryptoKey> {
    const pub = await crypto.subtle.importKey("raw", peer as BufferSource, { name: "X25519" }, false, []);
    const shared = new Uint8Array(await crypto.subtle.deriveBits({ name: "X25519", public: pub },
      this.keyPair.privateKey, 256));
    const raw = await hkdfBytes(shared, cat(u64(this.callId), u32(from), u32(to)), "parley-gc-seal-v1", 16);
    return crypto.subtle.importKey("raw", raw as BufferSource, "AES-GCM", false, ["encrypt", "decrypt"]);
  }

  private ad(from: number, to: number): Uint8Array {
    return cat(enc.encode("parley-gc-key-v1"), u64(this.callId), u32(from), u32(to));
  }

  private async seal(to: Member): Promise<Uint8Array> {
    const k = await this.wrapKey(to.callKey, this.self, to.participantId);
    const nonce = crypto.getRandomValues(new Uint8Array(12));
    const ct = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv: nonce,
      additionalData: this.ad(this.self, to.participantId) as BufferSource }, k,
    cat(u32(this.own.epoch), this.own.base) as BufferSource));
    return cat(new Uint8Array([1]), nonce, ct);
  }

  // A sealed key from `from` (GroupCallEvent.key). false when it does not open.
  async onKey(from: number, epoch: number, sealed: Uint8Array): Promise<boolean> {
    const m = this.members.find((x) => x.participantId === from && !x.presentationOf);
    if (sealed.length !== 1 + 12 + 20 + 16 || sealed[0] !== 1) return false;
    if (!m) {   // its sender is not in our view yet (the key overtook the join): keep it
      if (this.early.length < 1000) this.early.push({ from, epoch, sealed });
      return false;
    }
    try {
      const k = await this.wrapKey(m.callKey, from, this.self);
      const pt = new Uint8Array(await crypto.subtle.decrypt({ name: "AES-GCM", iv: sealed.subarray(1, 13) as BufferSource,
        additionalData: this.ad(from, this.self) as BufferSource }, k, sealed.subarray(13) as BufferSource));
      const ep = new DataView(pt.buffer).getUint32(0);
      if (ep !== epoch) throw new Error("epoch mismatch");
      await this.install(from, ep, pt.slice(4));
      this.keysOpened++;
      return true;
    } catch {
      this.keysRefused++;
      return false;
    }
  }

  // The membership changed (self included). Returns the keys to send, or null.
  async setMembers(members: Member[]): Promise<KeyBatch | null> {
    const batch = await this.membersChanged(members);
    const early = this.early;
    this.early = [];
    for (const k of early) await this.onKey(k.from, k.epoch, k.sealed);  // unknown ones wait again
    return batch;
  }

  private async membersChanged(members: Member[]): Promise<KeyBatch | null> {
    const senders = (l: Member[]) => new Set(l.filter((m) => !m.presentationOf).map((m) => m.participantId));
    const before = senders(this.members), after = senders(members);
    this.members = members.slice().sort((a, b) => a.participantId - b.participantId);
    const joined = [...after].filter((id) => !before.has(id) && id !== this.self);
    const left = [...before].filter((id) => !after.has(id));
    if (before.size === 0) {            // our own join: everyone present gets our key
      return this.batch([...after].filter((id) => id !== this.self));
    }
    if (left.length) {
      this.own = { epoch: this.own.epoch + 1, base: crypto.getRandomValues(new Uint8Array(16)) };
      for (const id of left) this.known.delete(id);
    } else if (joined.length) {
      for (const [from, k] of this.known) {     // every sender advances: follow each chain
        k.ahead++;
        await this.extend(from);
      }
      this.own = { epoch: this.own.epoch + 1, base: await this.advance(this.own.base) };
    } else {
      for (const m of members) if (m.presentationOf) {  // a new presentation: its KIDs
        const k = this.known.get(m.presentationOf);
        for (const [ep, base] of k?.keys ?? []) for (const w of this.workers) this.post(w, m.presentationOf, ep, base);
      }
      return null;
    }
    await this.install(this.self, this.own.epoch, this.own.base);
    this.timers.push(window.setTimeout(() => this.startSending(), this.applyDelayMs));
    // Sealed to everyone still in, not only to newcomers: those already in could derive the
    // advanced key, but a receiver whose copy of the previous one was lost or late would
    // then stay dark. The cost is one seal per participant per change and sender.
    return this.batch([...after].filter((id) => id !== this.self));
  }

  private async advance(base: Uint8Array): Promise<Uint8Array> {
    return hkdfBytes(base, new Uint8Array(0), "parley-gc-advance", 16);
  }

  private async batch(to: number[]): Promise<KeyBatch | null> {
    const keys = [];
    for (const id of to) {
      const m = this.members.find((x) => x.participantId === id);
      if (!m) continue;
      keys.push({ to: id, sealed: await this.seal(m) });
      this.sealedTo.set(id, (this.sealedTo.get(id) ?? 0) + 1);
    }
    return keys.length ? { epoch: this.own.epoch, keys } : null;
  }

  get epoch(): number { return this.own.epoch; }

  async emoji(): Promise<string[]> {
    const parts: Uint8Array[] = [enc.encode("parley-gc-members-v1"), u64(this.callId)];
    for (const m of this.members) parts.push(u32(m.participantId), u64(m.userId), m.callKey);
    const d = new Uint8Array(await crypto.subtle.digest("SHA-256", cat(...parts) as BufferSource));
    return [0, 1, 2, 3].map((i) => EMOJI[d[i]]);
  }

  stats(): E2EEStats {
    const s = { encrypted: 0, decrypted: 0, failed: 0, noKey: 0, keysOpened: this.keysOpened,
      keysRefused: this.keysRefused };
    for (const t of this.totals.values()) {
      s.encrypted += t.encrypted; s.decrypted += t.decrypted; s.failed += t.failed; s.noKey += t.noKey;
    }
    return s;
  }

  // TEST HOOK: how many keys this participant sealed to participant `id`.
  debugSealedTo(id: number): number { return this.sealedTo.get(id) ?? 0; }

  // TEST HOOK: every key this participant received is replaced by random bytes.
  debugCorruptKeys(): void {
    for (const w of this.workers) if (![...this.sendWorkers.values()].includes(w)) w.postMessage({ type: "corrupt" });
  }

  // TEST HOOK: every media key this participant holds (its own and the ones it received), as
  // "KID:hex" for tests/tools/media_check, which decrypts what the SFU captured with them.
  debugKeys(): string[] {
    const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
    const out: string[] = [];
    for (const [from, k] of this.known)
      for (const [epoch, base] of k.keys) out.push(`${kidOf(from, epoch)}:${hex(base)}`);
    return out;
  }

  close(): void {
    for (const t of this.timers) clearTimeout(t);
    for (const w of this.workers) w.terminate();
    this.workers = [];
    this.sendWorkers.clear();
  }
}
