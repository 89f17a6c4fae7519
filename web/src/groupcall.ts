// groupcall.ts: one group call's WebRTC side and its signalling through parleyd (the "Group
// calls" section of proto/parley.proto; docs/GROUP_CALLS.md).
//
// The browser always offers: one RTCPeerConnection to parley-sfu carries our microphone, our
// camera (three simulcast layers q/h/f) and recvonly "slots", one audio and one video
// transceiver per other participant we show (plus spares). parleyd answers with the SFU's
// answer; GroupCallSubscribe says whom we show at what size and which slot (mid) carries whom.
// When slots run out we add transceivers and renegotiate. A screen share is a second
// connection joined with presentation_of = our id, publish-only.
//
// Every frame we send is SFrame-encrypted and every frame we receive decrypted in a transform
// worker (gc_e2ee.ts); parleyd relays the sealed keys. The transforms are attached before the
// answer is applied, so no frame ever leaves unencrypted.
//
// Keys go only to participants we trust: after joining, each device signs its call key with
// its identity key (device_identity.ts; GroupCallSign), and we check every other
// participant's signature and its identity key against our pin for that (user, device). A
// participant without a valid signature ("pending", "bad") or whose device key changed since
// we pinned it ("changed") is shown as such, gets no key from us, and its keys to us are held
// back (CallE2EE keeps them until the sender is a member), so its media is not decrypted.
//
// Noise suppression is switched on the audio sender with replaceTrack (no renegotiation; the
// SFrame transform sits on the sender, so the denoised track is encrypted like the mic).
//
// Ownership: GroupCalls owns at most one GroupCall; a GroupCall owns its peer connections, the
// local tracks, its Denoiser and its CallE2EE, and stops all of them in end().
import { type GroupCallEvent, type GroupCallParticipant, type GroupCallState } from "./gen/parley_pb";
import { type Client } from "./client";
import { CallE2EE, PC_CONFIG, type Member } from "./gc_e2ee";
import { DeviceIdentity, Pins, safetyNumber, signedMessage, verifySignature } from "./device_identity";
import { Denoiser } from "./noise";

// "browser": the browser's own noise suppression; "rnnoise": RNNoise in an AudioWorklet
// (noise.ts), whose output track replaces the mic on the audio sender.
export type NoiseMode = "browser" | "off" | "rnnoise";

export interface Tile {
  id: number;                 // publisher participant id
  name: string;
  audio: boolean;
  video: boolean;
  hand: boolean;
  presentation: boolean;
  track: MediaStreamTrack | null;   // the video slot's track, once subscribed
  audioTrack: MediaStreamTrack | null;
  frames: number;             // inbound framesDecoded of its video slot
  audioBytes: number;
}

export interface GroupCallView { show(c: GroupCall | null): void; }

// How far a participant's call key is trusted: "self"; "pending" (not signed yet); "bad"
// (the signature does not verify); "changed" (signed by another identity key than the one
// pinned for that device); "pinned" (the pinned key, or first seen and pinned now);
// "verified" (the pinned key, and the user compared its safety number).
export type Trust = "self" | "pending" | "bad" | "changed" | "pinned" | "verified";
export const TRUSTED: ReadonlySet<Trust> = new Set(["self", "pinned", "verified"]);
export interface TrustInfo { trust: Trust; of: string; safetyNumber: string; }

// Everything a participant's trust depends on: a change of any of it (the server could push
// the same signature with another call key later) is checked again.
function trustInputs(p: GroupCallParticipant): string {
  const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${p.user?.id ?? 0n}:${p.deviceId}:${hex(p.callKey)}:${hex(p.identityKey)}:${hex(p.callKeySignature)}`;
}

const SPARE_SLOTS = 2;
const MAX_SLOTS = 31;         // 2 sending + 62 m-lines at most at the SFU

function member(p: GroupCallParticipant): Member {
  return { participantId: p.participantId, userId: p.user?.id ?? 0n, callKey: p.callKey,
    presentationOf: p.presentationOf };
}

export class GroupCall {
  callId = 0n;
  me = 0;
  speaker = 0;
  parts = new Map<number, GroupCallParticipant>();
  muted = false;
  cameraOff = false;
  hand = false;
  sharing = false;
  emoji: string[] = [];
  ended = "";
  identity: DeviceIdentity | null = null;
  identityError = "";                    // why this device's call key is not signed
  selfNumber = "";                       // this device's safety number
  trust = new Map<number, TrustInfo>();  // by participant id (owners; presentations follow)
  private pins: Pins;
  pc: RTCPeerConnection | null = null;
  local: MediaStream | null = null;
  e2ee: CallE2EE | null = null;
  tiles = new Map<number, Tile>();
  private mids = new Map<string, MediaStreamTrack>();
  private slots = 0;
  private screen: { pc: RTCPeerConnection; id: number; track: MediaStreamTrack } | null = null;
  private subscribing = false;
  private resubscribe = false;
  heights = new Map<number, number>();   // what the screen draws each tile at (pixels)
  noise: NoiseMode = "browser";
  private audioSender: RTCRtpSender | null = null;
  private denoiser: Denoiser | null = null;
  private noiseSeq = 0;                  // the latest setNoise; an older one that finishes late yields

  constructor(private client: Client, public chatId: bigint, public title: string,
              private changed: () => void, private userId: bigint) {
    this.pins = new Pins(userId);
  }

  private async req<T>(c: string, value: object): Promise<T> {
    const r = await this.client.call({ case: c, value } as never, { retry: false });
    return r.value as T;
  }

  async join(video: boolean): Promise<void> {
    this.e2ee = await CallE2EE.create();
    try {
      this.identity = await DeviceIdentity.load(this.client, this.userId);
      this.selfNumber = await safetyNumber(this.identity.userId, this.identity.deviceId, this.identity.publicKey);
    } catch (e) {
      this.identityError = `This device's identity key is not available (${(e as Error).message}); ` +
        "others will show you as unverified. Logging in again makes a new one.";
    }
    this.local = await navigator.mediaDevices.getUserMedia({
      audio: { noiseSuppression: true, echoCancellation: true, autoGainControl: true },
      video: video ? { width: 1280, height: 720 } : false,
    });
    this.cameraOff = !video;
    const st = await this.req<GroupCallState>("getGroupCall", { chatId: this.chatId });
    const pc = this.pc = new RTCPeerConnection(PC_CONFIG);
    pc.ontrack = (e) => {
      const mid = e.transceiver.mid;
      if (mid) this.mids.set(mid, e.track);
      this.e2ee?.decryptReceiver(e.receiver, e.track.kind);
      this.changed();
    };
    const audio = this.local.getAudioTracks()[0];
    const cam = this.local.getVideoTracks()[0];
    const at = pc.addTransceiver(audio, { direction: "sendonly" });
    const vt = pc.addTransceiver(cam ?? "video", { direction: "sendonly", sendEncodings: [
      { rid: "q", scaleResolutionDownBy: 4, maxBitrate: 150_000 },
      { rid: "h", scaleResolutionDownBy: 2, maxBitrate: 500_000 },
      { rid: "f", maxBitrate: 1_500_000 }] });
    this.audioSender = at.sender;
    this.preferCodecs(at, "audio");
    this.preferCodecs(vt, "video");
    this.addSlots(Math.min(MAX_SLOTS, st.participantCount + SPARE_SLOTS));
    await pc.setLocalDescription(await pc.createOffer());
    const j = await this.req<{ participantId: number; answerSdp: string; state: GroupCallState }>(
      "groupCallJoin", { chatId: this.chatId, offerSdp: pc.localDescription!.sdp,
        callKey: this.e2ee.publicKey, audio: true, video });
    this.me = j.participantId;
    this.callId = j.state.callId;
    this.e2ee.setSelf(this.me, this.callId);
    await this.signCallKey();
    this.e2ee.encryptSender(at.sender, this.me, "audio");
    this.e2ee.encryptSender(vt.sender, this.me, "video");
    await pc.setRemoteDescription({ type: "answer", sdp: j.answerSdp });
    await this.applyState(j.state);
  }

  // Signs our call key for this call (GroupCallSign), so that others can check it.
  private async signCallKey(): Promise<void> {
    const id = this.identity;
    if (!id || !this.e2ee) return;
    try {
      const sig = await id.sign(signedMessage(this.callId, id.userId, id.deviceId, this.e2ee.publicKey));
      await this.req("groupCallSign", { callId: this.callId, participantId: this.me, callKeySignature: sig });
    } catch (e) {
      this.identityError = `Could not sign this call's key (${(e as Error).message}).`;
    }
  }

  // The trust of each participant (cached while its user, device, keys and signature stay).
  private async checkTrust(): Promise<void> {
    for (const id of [...this.trust.keys()]) if (!this.parts.has(id)) this.trust.delete(id);
    for (const p of this.parts.values()) {
      if (p.presentationOf) continue;
      if (this.trust.get(p.participantId)?.of === trustInputs(p)) continue;
      this.trust.set(p.participantId, await this.trustOf(p));
    }
  }

  private async trustOf(p: GroupCallParticipant): Promise<TrustInfo> {
    const sig = p.callKeySignature, user = p.user?.id ?? 0n;
    const info: TrustInfo = { trust: "pending", of: trustInputs(p), safetyNumber: "" };
    if (p.participantId === this.me) return { ...info, trust: "self", safetyNumber: this.selfNumber };
    if (!sig.length) return info;
    if (!await verifySignature(p.identityKey, sig, signedMessage(this.callId, user, p.deviceId, p.callKey)))
      return { ...info, trust: "bad" };
    info.safetyNumber = await safetyNumber(user, p.deviceId, p.identityKey);
    const c = await this.pins.check(user, p.deviceId, p.identityKey);
    info.trust = c === "new" ? "pinned" : c;
    return info;
  }

  trustOfPart(id: number): Trust {
    const p = this.parts.get(id);
    return this.trust.get(p?.presentationOf || id)?.trust ?? "pending";
  }

  // The user compared the safety number (or accepts a changed key): pinned as verified (or
  // the new key pinned), then keys follow.
  async setVerified(id: number, accept = false): Promise<void> {
    const p = this.parts.get(id);
    if (!p?.user || !p.identityKey.length) return;
    await this.pins.set(p.user.id, p.deviceId, { key: p.identityKey, verified: !accept });
    this.trust.delete(id);
    await this.membersChanged();
  }

  private preferCodecs(t: RTCRtpTransceiver, kind: "audio" | "video"): void {
    const caps = RTCRtpReceiver.getCapabilities(kind)?.codecs ?? [];
    const want = kind === "audio" ? /^audio\/opus$/i : /^video\/(vp8|rtx)$/i;
    const codecs = caps.filter((c) => want.test(c.mimeType));
    if (codecs.length) t.setCodecPreferences(codecs);
  }

  private addSlots(n: number): void {
    for (let i = 0; i < n && this.slots < MAX_SLOTS; i++, this.slots++) {
      this.preferCodecs(this.pc!.addTransceiver("audio", { direction: "recvonly" }), "audio");
      this.preferCodecs(this.pc!.addTransceiver("video", { direction: "recvonly" }), "video");
    }
  }

  private async applyState(st: GroupCallState): Promise<void> {
    let s = st;
    this.parts.clear();
    for (;;) {
      for (const p of s.participants) this.parts.set(p.participantId, p);
      if (!s.more || !s.participants.length) break;
      s = await this.req<GroupCallState>("getGroupCall", { chatId: this.chatId,
        afterParticipant: s.participants[s.participants.length - 1].participantId });
    }
    this.speaker = st.speaker;
    await this.membersChanged();
  }

  // Keys, emoji, tiles and subscriptions follow the membership.
  private async membersChanged(): Promise<void> {
    if (!this.e2ee) return;
    await this.checkTrust();
    const trusted = [...this.parts.values()].filter((p) => TRUSTED.has(this.trustOfPart(p.participantId)));
    const batch = await this.e2ee.setMembers(trusted.map(member));
    if (batch) {
      for (let i = 0; i < batch.keys.length; i += 500)
        await this.req("groupCallKeys", { callId: this.callId, participantId: this.me, epoch: batch.epoch,
          keys: batch.keys.slice(i, i + 500).map((k) => ({ toParticipant: k.to, sealed: k.sealed })) });
    }
    this.emoji = await this.e2ee.emoji();
    for (const id of [...this.tiles.keys()]) if (!this.parts.has(id)) this.tiles.delete(id);
    for (const p of this.parts.values()) {
      if (p.participantId === this.me || p.participantId === this.screen?.id) continue;
      const t = this.tiles.get(p.participantId) ?? { id: p.participantId, name: p.user?.username ?? "?",
        audio: false, video: false, hand: false, presentation: false, track: null, audioTrack: null,
        frames: 0, audioBytes: 0 };
      Object.assign(t, { audio: p.audio, video: p.video, hand: p.handRaised, presentation: p.presentationOf !== 0 });
      this.tiles.set(p.participantId, t);
    }
    this.changed();
    await this.subscribe();
  }

  // Subscribes to every tile at its drawn size; renegotiates once if slots ran out.
  async subscribe(): Promise<void> {
    if (this.subscribing) { this.resubscribe = true; return; }
    this.subscribing = true;
    try {
      do {
        this.resubscribe = false;
        const views = [...this.tiles.values()].map((t) => ({ publisher: t.id,
          maxHeight: this.heights.get(t.id) ?? (t.presentation ? 720 : 360) }));
        const r = await this.req<{ slots: { publisher: number; audioMid: string; videoMid: string }[];
          freeAudioSlots: number; freeVideoSlots: number }>("groupCallSubscribe",
        { callId: this.callId, participantId: this.me, views });
        const missing = r.slots.filter((s) => !s.audioMid).length;
        for (const s of r.slots) {
          const t = this.tiles.get(s.publisher);
          if (!t) continue;
          t.audioTrack = this.mids.get(s.audioMid) ?? null;
          t.track = s.videoMid ? this.mids.get(s.videoMid) ?? null : null;
        }
        if (missing && this.slots < MAX_SLOTS) {
          this.addSlots(missing + SPARE_SLOTS);
          await this.pc!.setLocalDescription(await this.pc!.createOffer());
          const a = await this.req<{ answerSdp: string }>("groupCallRenegotiate",
            { callId: this.callId, participantId: this.me, offerSdp: this.pc!.localDescription!.sdp });
          await this.pc!.setRemoteDescription({ type: "answer", sdp: a.answerSdp });
          this.resubscribe = true;
        }
      } while (this.resubscribe && this.callId);
    } finally {
      this.subscribing = false;
      this.changed();
    }
  }

  async onEvent(ev: GroupCallEvent): Promise<void> {
    if (ev.callId !== this.callId) return;
    const k = ev.kind;
    if (k.case === "key") {
      await this.e2ee?.onKey(k.value.fromParticipant, k.value.epoch, k.value.sealed);
      return;
    }
    if (k.case === "joined" || k.case === "changed") this.parts.set(k.value.participantId, k.value);
    else if (k.case === "left") this.parts.delete(k.value);
    else if (k.case === "speaker") this.speaker = k.value;
    else if (k.case === "ended") { this.end("The call ended"); return; }
    if (k.case === "speaker") this.changed();
    else await this.membersChanged();
  }

  // Switches noise suppression. RNNoise turns the browser's off (one denoiser at a time) and
  // sends the worklet's track; leaving it sends the mic again and frees the pipeline. On
  // failure the mic stays on the sender and the error is thrown for the screen to show.
  async setNoise(mode: NoiseMode): Promise<void> {
    const seq = ++this.noiseSeq;
    const mic = this.local?.getAudioTracks()[0];
    const sender = this.audioSender;
    if (!mic || !sender) return;
    this.noise = mode;
    await mic.applyConstraints({ noiseSuppression: mode === "browser", echoCancellation: true,
      autoGainControl: true }).catch(() => {});
    if (mode !== "rnnoise") {
      const d = this.denoiser;
      this.denoiser = null;
      if (d) { await sender.replaceTrack(mic); d.stop(); }
      this.changed();
      return;
    }
    if (this.denoiser) return;
    const d = await Denoiser.start(mic).catch((e: unknown) => {
      if (seq === this.noiseSeq) { this.noise = "browser"; void this.setNoise("browser"); }
      throw e;
    });
    if (seq !== this.noiseSeq || !this.callId) { d.stop(); return; }   // switched away meanwhile
    d.output.enabled = !this.muted;
    await sender.replaceTrack(d.output);
    this.denoiser = d;
    this.changed();
  }

  async setFlags(): Promise<void> {
    this.local?.getAudioTracks().forEach((t) => { t.enabled = !this.muted; });
    if (this.denoiser) this.denoiser.output.enabled = !this.muted;
    this.local?.getVideoTracks().forEach((t) => { t.enabled = !this.cameraOff; });
    await this.req("groupCallMedia", { callId: this.callId, participantId: this.me,
      audio: !this.muted, video: !this.cameraOff && !!this.local?.getVideoTracks().length,
      handRaised: this.hand });
    this.changed();
  }

  async shareScreen(): Promise<void> {
    if (this.screen) {
      const s = this.screen;
      this.screen = null;
      s.track.stop();
      s.pc.close();
      await this.req("groupCallLeave", { callId: this.callId, participantId: s.id }).catch(() => {});
      this.sharing = false;
      this.changed();
      return;
    }
    const ms = await navigator.mediaDevices.getDisplayMedia({ video: true, preferCurrentTab: true } as DisplayMediaStreamOptions);
    const track = ms.getVideoTracks()[0];
    const pc = new RTCPeerConnection(PC_CONFIG);
    const vt = pc.addTransceiver(track, { direction: "sendonly" });
    this.preferCodecs(vt, "video");
    await pc.setLocalDescription(await pc.createOffer());
    const j = await this.req<{ participantId: number; answerSdp: string }>("groupCallJoin", {
      chatId: this.chatId, offerSdp: pc.localDescription!.sdp, callKey: this.e2ee!.publicKey,
      presentationOf: this.me });
    this.screen = { pc, id: j.participantId, track };
    this.e2ee!.encryptSender(vt.sender, j.participantId, "video");
    await pc.setRemoteDescription({ type: "answer", sdp: j.answerSdp });
    track.onended = () => { if (this.screen?.track === track) void this.shareScreen(); };
    this.sharing = true;
    this.changed();
  }

  // Reads getStats into the tiles (frames decoded, audio bytes) for the screen and the tests.
  async sample(): Promise<void> {
    if (!this.pc) return;
    const byMid = new Map<string, { frames: number; bytes: number }>();
    (await this.pc.getStats()).forEach((s) => {
      if (s.type === "inbound-rtp" && s.mid !== undefined)
        byMid.set(String(s.mid), { frames: s.framesDecoded ?? 0, bytes: s.bytesReceived ?? 0 });
    });
    const midOf = new Map<MediaStreamTrack, string>();
    for (const [mid, t] of this.mids) midOf.set(t, mid);
    for (const t of this.tiles.values()) {
      t.frames = t.track ? byMid.get(midOf.get(t.track) ?? "")?.frames ?? 0 : 0;
      t.audioBytes = t.audioTrack ? byMid.get(midOf.get(t.audioTrack) ?? "")?.bytes ?? 0 : 0;
    }
    this.changed();
  }

  async leave(): Promise<void> {
    if (this.callId) await this.req("groupCallLeave", { callId: this.callId, participantId: this.me }).catch(() => {});
    this.end("You left the call");
  }

  end(why: string): void {
    this.ended = why;
    this.callId = 0n;
    this.screen?.track.stop();
    this.screen?.pc.close();
    this.denoiser?.stop();
    this.denoiser = null;
    this.noiseSeq++;
    this.local?.getTracks().forEach((t) => t.stop());
    this.pc?.close();
    this.e2ee?.close();
    this.pc = null;
    this.changed();
  }
}

export class GroupCalls {
  current: GroupCall | null = null;
  view: GroupCallView | null = null;
  running = new Map<bigint, number>();   // chat id -> participant count, from pushes
  onRunning: () => void = () => {};
  private timer: number | undefined;

  constructor(private client: Client, private me: () => bigint) {}

  async join(chatId: bigint, title: string, video = true): Promise<void> {
    if (this.current) return;
    const c = this.current = new GroupCall(this.client, chatId, title, () => this.view?.show(this.current),
      this.me());
    // TEST HOOK: the browser tests reach the call (e.g. to corrupt its keys) through this.
    (window as unknown as { __parleyGroupCall: GroupCall }).__parleyGroupCall = c;
    try {
      await c.join(video);
      this.timer = window.setInterval(() => void c.sample(), 1000);
    } catch (e) {
      c.end("Could not join");
      this.close();
      throw e;
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.current = null;
    this.view?.show(null);
  }

  onEvent(ev: GroupCallEvent): void {
    if (ev.kind.case === "ended") this.running.delete(ev.chatId);
    else if (ev.kind.case !== "key") this.running.set(ev.chatId, ev.participantCount);
    this.onRunning();
    if (this.current) void this.current.onEvent(ev);
  }
}
