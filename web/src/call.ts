// call.ts: one 1:1 call's WebRTC side and its signalling through parleyd (the "Calls" section
// of proto/parley.proto; docs/CALLS.md). The server relays SDP and ICE between the two bound
// devices and never sees media: it flows browser to browser over DTLS-SRTP, directly or
// through the TURN relay whose short-lived credentials GetCallConfig hands out.
//
// Roles: the caller sends start, and after `accept` creates the offer; the callee answers.
// Any later offer (either side) is a renegotiation and is answered the same way. Camera
// on/off and screen sharing swap the video sender's track (replaceTrack), which needs no
// renegotiation; the peer learns what is being sent from a `media` signal.
//
// Ownership: Calls owns at most one Call; a Call owns its RTCPeerConnection and the local
// tracks, and stops every one of them in end(). The view (call_ui.ts) only reads a Call and
// calls the Calls methods.
import { type CallConfig, type CallEvent, type CallSignal } from "./gen/parley_pb";
import { ApiError, type Client } from "./client";
import { sdpFingerprint, verificationEmoji } from "./call_verify";

export type Phase = "outgoing" | "incoming" | "connecting" | "active" | "ended";
type SignalKind = NonNullable<CallSignal["kind"]["case"]>;

export interface CallStats {
  videoFrames: number;       // inbound video framesDecoded
  audioPackets: number;      // inbound audio packetsReceived
  frameWidth: number;
  rtt: number;               // seconds, of the selected candidate pair
  lost: number;              // fraction of inbound audio packets lost since the last sample
  localType: string;         // candidateType of the selected pair's local candidate
  remoteType: string;
  audioLevel: number;        // 0..1 of the peer's audio
}

export class Call {
  phase: Phase;
  emoji: string[] = [];
  acceptedAt = 0;            // Date.now() when media started to be set up
  muted = false;
  cameraOff = false;
  screen = false;
  noiseSuppression = true;   // also echo cancellation: the browser's own processing
  remoteMedia = { audio: true, video: true, screen: false };
  endText = "";
  stats: CallStats | null = null;
  pc: RTCPeerConnection | null = null;
  local: MediaStream | null = null;
  remote = new MediaStream();
  camTrack: MediaStreamTrack | null = null;
  screenTrack: MediaStreamTrack | null = null;
  pendingIce: RTCIceCandidateInit[] = [];
  fingerprints: [string, string] | null = null;   // local, remote (from the SDPs)
  relay = false;

  constructor(public id: bigint, public chatId: bigint, public peer: string, public video: boolean,
              public outgoing: boolean) {
    this.phase = outgoing ? "outgoing" : "incoming";
  }
}

export interface CallView {
  show(c: Call): void;      // anything about the call changed
}

const END_TEXT: Partial<Record<SignalKind, string>> = {
  decline: "Declined", busy: "Busy", cancel: "Cancelled", hangup: "Call ended",
  timeout: "No answer", answeredElsewhere: "Answered on another device",
};

export class Calls {
  current: Call | null = null;
  view: CallView | null = null;
  private statsTimer: number | undefined;

  constructor(private client: Client) {}

  private show(): void { if (this.current && this.view) this.view.show(this.current); }

  private async signal(c: Call, kind: SignalKind, value: object = {}): Promise<void> {
    await this.client.call({ case: "callSignal",
      value: { callId: c.id, kind: { case: kind, value } as CallSignal["kind"] } }, { retry: false });
  }

  private async config(): Promise<CallConfig> {
    const r = await this.client.call({ case: "getCallConfig", value: {} });
    if (r.case !== "callConfig") throw new Error("unexpected answer");
    return r.value;
  }

  async setAlwaysRelay(on: boolean): Promise<boolean> {
    const r = await this.client.call({ case: "setCallSettings", value: { alwaysRelay: on } });
    return r.case === "callConfig" && r.value.alwaysRelay;
  }

  async alwaysRelay(): Promise<boolean> { return (await this.config()).alwaysRelay; }

  // ---- starting and answering ------------------------------------------------------------

  async start(chatId: bigint, peer: string, video: boolean): Promise<void> {
    if (this.current && this.current.phase !== "ended") throw new Error("already in a call");
    const c = new Call(0n, chatId, peer, video, true);
    this.current = c;
    this.show();
    try {
      await this.openMedia(c);
      const r = await this.client.call({ case: "callSignal",
        value: { callId: 0n, kind: { case: "start", value: { chatId, video } } } }, { retry: false });
      if (r.case !== "callStarted") throw new Error("unexpected answer");
      c.id = r.value.callId;
      this.show();
    } catch (e) {
      this.end(c, e instanceof ApiError ? e.message : String(e));
    }
  }

  async accept(): Promise<void> {
    const c = this.current;
    if (!c || c.phase !== "incoming") return;
    c.phase = "connecting";
    this.show();
    try {
      await this.openMedia(c);
      await this.makePc(c);
      await this.signal(c, "accept");
      c.acceptedAt = Date.now();
    } catch (e) {
      this.end(c, e instanceof ApiError ? e.message : String(e));
    }
  }

  async decline(): Promise<void> {
    const c = this.current;
    if (!c || c.phase !== "incoming") return;
    this.end(c, "Declined");
    await this.signal(c, "decline").catch(() => {});
  }

  async hangup(): Promise<void> {
    const c = this.current;
    if (!c) return;
    if (c.phase === "ended") { this.dismiss(); return; }
    const kind: SignalKind = c.phase === "outgoing" ? "cancel" : "hangup";
    this.end(c, kind === "cancel" ? "Cancelled" : "Call ended");
    if (c.id) await this.signal(c, kind).catch(() => {});
  }

  dismiss(): void {
    const c = this.current;
    if (c?.phase === "ended") { this.current = null; this.view?.show(c); }
  }

  private audioConstraints(c: Call): MediaTrackConstraints {
    return { echoCancellation: c.noiseSuppression, noiseSuppression: c.noiseSuppression,
      autoGainControl: c.noiseSuppression };
  }

  private async openMedia(c: Call): Promise<void> {
    c.local = await navigator.mediaDevices.getUserMedia({ audio: this.audioConstraints(c), video: c.video });
    c.camTrack = c.local.getVideoTracks()[0] ?? null;
    this.show();
  }

  private async makePc(c: Call): Promise<void> {
    const cfg = await this.config();
    c.relay = cfg.alwaysRelay;
    const pc = new RTCPeerConnection({
      iceServers: cfg.iceServers.map((s) => ({ urls: s.urls, username: s.username || undefined,
        credential: s.credential || undefined })),
      iceTransportPolicy: cfg.alwaysRelay ? "relay" : "all",
    });
    c.pc = pc;
    for (const t of c.local?.getTracks() ?? []) pc.addTrack(t, c.local!);
    // An audio call still gets a video transceiver, so the camera can be turned on later
    // with replaceTrack instead of a renegotiation.
    if (!c.camTrack) pc.addTransceiver("video", { direction: "sendrecv" });
    pc.ontrack = (e) => { c.remote.addTrack(e.track); this.show(); };
    pc.onicecandidate = (e) => {
      if (e.candidate) void this.signal(c, "candidate", { candidate: e.candidate.candidate,
        sdpMid: e.candidate.sdpMid ?? "", sdpMlineIndex: e.candidate.sdpMLineIndex ?? 0 }).catch(() => {});
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === "connected" && c.phase === "connecting") {
        c.phase = "active";
        c.acceptedAt = Date.now();
        this.startStats(c);
      }
      if (pc.connectionState === "failed") void this.hangup();
      this.show();
    };
  }

  // ---- signalling from the peer ------------------------------------------------------------

  onEvent(ev: CallEvent): void {
    const sig = ev.signal?.kind;
    if (!sig?.case) return;
    if (sig.case === "start") { this.incoming(ev); return; }
    const c = this.current;
    if (!c || c.id !== ev.callId || c.phase === "ended") return;
    switch (sig.case) {
      case "ringing": c.endText = "Ringing…"; this.show(); return;
      case "accept": void this.onAccepted(c); return;
      case "offer": void this.onOffer(c, sig.value.sdp); return;
      case "answer": void this.onAnswer(c, sig.value.sdp); return;
      case "candidate": void this.onCandidate(c, { candidate: sig.value.candidate,
        sdpMid: sig.value.sdpMid, sdpMLineIndex: sig.value.sdpMlineIndex }); return;
      case "media": c.remoteMedia = { ...sig.value }; this.show(); return;
      default: this.end(c, END_TEXT[sig.case] ?? "Call ended");
    }
  }

  private incoming(ev: CallEvent): void {
    if (this.current && this.current.phase !== "ended") {
      // Another device of ours is in a call with someone else: the server already answers
      // busy for the account, so this is a call raced in; leave it to the other devices.
      return;
    }
    const c = new Call(ev.callId, ev.chatId, ev.peer?.username ?? "", ev.video, false);
    this.current = c;
    this.show();
    void this.signal(c, "ringing").catch(() => {});
  }

  private async onAccepted(c: Call): Promise<void> {
    c.phase = "connecting";
    c.endText = "";
    this.show();
    try {
      await this.makePc(c);
      const offer = await c.pc!.createOffer();
      await c.pc!.setLocalDescription(offer);
      await this.signal(c, "offer", { sdp: c.pc!.localDescription!.sdp });
    } catch (e) {
      void this.hangup();
    }
  }

  private async onOffer(c: Call, sdp: string): Promise<void> {
    const pc = c.pc;
    if (!pc) return;
    await pc.setRemoteDescription({ type: "offer", sdp });
    await this.flushIce(c);
    await pc.setLocalDescription(await pc.createAnswer());
    await this.signal(c, "answer", { sdp: pc.localDescription!.sdp });
    await this.verify(c);
  }

  private async onAnswer(c: Call, sdp: string): Promise<void> {
    if (!c.pc) return;
    await c.pc.setRemoteDescription({ type: "answer", sdp });
    await this.flushIce(c);
    await this.verify(c);
  }

  private async onCandidate(c: Call, cand: RTCIceCandidateInit): Promise<void> {
    if (!c.pc || !c.pc.remoteDescription) { c.pendingIce.push(cand); return; }
    if (cand.candidate) await c.pc.addIceCandidate(cand).catch(() => {});
  }

  private async flushIce(c: Call): Promise<void> {
    const q = c.pendingIce;
    c.pendingIce = [];
    for (const cand of q) if (cand.candidate) await c.pc!.addIceCandidate(cand).catch(() => {});
  }

  private async verify(c: Call): Promise<void> {
    const l = sdpFingerprint(c.pc?.localDescription?.sdp ?? "");
    const r = sdpFingerprint(c.pc?.remoteDescription?.sdp ?? "");
    if (!l || !r) return;
    c.fingerprints = [l, r];
    c.emoji = await verificationEmoji(c.id, l, r);
    this.show();
  }

  // ---- in call ---------------------------------------------------------------------------

  private sendMedia(c: Call): void {
    void this.signal(c, "media", { audio: !c.muted, video: !c.cameraOff && !!c.camTrack,
      screen: c.screen }).catch(() => {});
  }

  private videoSender(c: Call): RTCRtpSender | undefined {
    return c.pc?.getTransceivers().find((t) => t.receiver.track.kind === "video")?.sender;
  }

  toggleMute(): void {
    const c = this.current;
    if (!c?.local) return;
    c.muted = !c.muted;
    for (const t of c.local.getAudioTracks()) t.enabled = !c.muted;
    this.sendMedia(c);
    this.show();
  }

  async toggleCamera(): Promise<void> {
    const c = this.current;
    if (!c?.pc) return;
    if (!c.camTrack) {
      const s = await navigator.mediaDevices.getUserMedia({ video: true });
      c.camTrack = s.getVideoTracks()[0];
      c.local?.addTrack(c.camTrack);
      c.cameraOff = true;  // flipped below
    }
    c.cameraOff = !c.cameraOff;
    c.camTrack.enabled = !c.cameraOff;
    if (!c.screen) await this.videoSender(c)?.replaceTrack(c.cameraOff ? null : c.camTrack);
    this.sendMedia(c);
    this.show();
  }

  async toggleScreen(): Promise<void> {
    const c = this.current;
    if (!c?.pc) return;
    const sender = this.videoSender(c);
    if (c.screen) {
      c.screenTrack?.stop();
      c.screenTrack = null;
      c.screen = false;
      await sender?.replaceTrack(c.cameraOff ? null : c.camTrack);
    } else {
      const s = await navigator.mediaDevices.getDisplayMedia(
        { video: true, audio: false, preferCurrentTab: true } as DisplayMediaStreamOptions);
      const t = s.getVideoTracks()[0];
      c.screenTrack = t;
      c.screen = true;
      t.onended = () => { if (c.screen && this.current === c) void this.toggleScreen(); };
      await sender?.replaceTrack(t);
    }
    this.sendMedia(c);
    this.show();
  }

  async setNoiseSuppression(on: boolean): Promise<void> {
    const c = this.current;
    if (!c) return;
    c.noiseSuppression = on;
    for (const t of c.local?.getAudioTracks() ?? []) await t.applyConstraints(this.audioConstraints(c)).catch(() => {});
    this.show();
  }

  private startStats(c: Call): void {
    clearInterval(this.statsTimer);
    let lastLost = 0, lastRecv = 0;
    this.statsTimer = window.setInterval(async () => {
      if (!c.pc || this.current !== c || c.phase === "ended") return;
      const st: CallStats = { videoFrames: 0, audioPackets: 0, frameWidth: 0, rtt: 0, lost: 0,
        localType: "", remoteType: "", audioLevel: 0 };
      const rep = await c.pc.getStats();
      let pair: RTCIceCandidatePairStats | undefined;
      rep.forEach((s) => {
        if (s.type === "inbound-rtp" && s.kind === "video") {
          st.videoFrames += s.framesDecoded ?? 0;
          st.frameWidth = s.frameWidth ?? st.frameWidth;
        } else if (s.type === "inbound-rtp" && s.kind === "audio") {
          st.audioPackets += s.packetsReceived ?? 0;
          st.audioLevel = s.audioLevel ?? 0;
          const lost = (s.packetsLost ?? 0) - lastLost, recv = (s.packetsReceived ?? 0) - lastRecv;
          st.lost = lost + recv > 0 ? Math.max(0, lost) / (lost + recv) : 0;
          lastLost = s.packetsLost ?? 0;
          lastRecv = s.packetsReceived ?? 0;
        } else if (s.type === "transport" && s.selectedCandidatePairId) {
          pair = rep.get(s.selectedCandidatePairId);
        }
      });
      if (pair) {
        st.rtt = pair.currentRoundTripTime ?? 0;
        st.localType = rep.get(pair.localCandidateId)?.candidateType ?? "";
        st.remoteType = rep.get(pair.remoteCandidateId)?.candidateType ?? "";
      }
      c.stats = st;
      this.show();
    }, 1000);
  }

  private end(c: Call, text: string): void {
    if (c.phase === "ended") return;
    c.phase = "ended";
    c.endText = text;
    clearInterval(this.statsTimer);
    c.pc?.close();
    for (const t of c.local?.getTracks() ?? []) t.stop();
    c.screenTrack?.stop();
    if (this.current === c) this.show();
    window.setTimeout(() => { if (this.current === c) this.dismiss(); }, 6000);
  }
}
