// call_ui.ts: the call screen, drawn over the app: incoming (accept / decline), outgoing
// (ringing / cancel), in call (mute, camera, screen sharing, noise suppression, quality,
// duration, verification emoji, hang up), and the end state until dismissed. It renders a
// Call from call.ts and calls back into Calls; it owns only its DOM. Layout is CSS
// (call.css): side by side on desktop, stacked on tablets and phones.
//
// The screen also writes the numbers it shows as data- attributes (frames decoded, audio
// packets, candidate type), so the browser tests read exactly what the user sees.
import { type Call, type Calls } from "./call";
import { append, clear, h } from "./dom";

function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const mm = Math.floor(s / 60), ss = s % 60;
  return `${mm}:${String(ss).padStart(2, "0")}`;
}

function quality(c: Call): string {
  const st = c.stats;
  if (!st) return "";
  if (st.rtt > 0.4 || st.lost > 0.1) return "poor";
  if (st.rtt > 0.15 || st.lost > 0.02) return "fair";
  return "good";
}

export class CallScreen {
  private el: HTMLElement;
  private remoteVideo: HTMLVideoElement;
  private localVideo: HTMLVideoElement;
  private status: HTMLElement;
  private emoji: HTMLElement;
  private controls: HTMLElement;
  private info: HTMLElement;
  private timer: number | undefined;
  private controlsKey = "";   // what the controls show: rebuilt only when it changes

  constructor(private calls: Calls) {
    this.remoteVideo = h("video", { class: "remote", autoplay: true, playsinline: true,
      "aria-label": "The other person's video" });
    this.localVideo = h("video", { class: "local", autoplay: true, playsinline: true, muted: true,
      "aria-label": "Your video" });
    this.localVideo.muted = true;
    this.status = h("p", { class: "call-status", role: "status" });
    this.emoji = h("p", { class: "call-emoji", "aria-label": "Verification emoji" });
    this.info = h("p", { class: "call-info" });
    this.controls = h("div", { class: "call-controls" });
    this.el = h("section", { class: "call hidden", role: "dialog", "aria-label": "Call" },
      h("div", { class: "call-media" }, this.remoteVideo, this.localVideo),
      h("div", { class: "call-side" }, this.status, this.emoji, this.info, this.controls));
    document.body.appendChild(this.el);
    calls.view = this;
  }

  show(c: Call): void {
    const calls = this.calls;
    if (calls.current !== c) { this.el.classList.add("hidden"); clearInterval(this.timer); return; }
    this.el.classList.remove("hidden");
    this.el.dataset.phase = c.phase;
    this.el.dataset.callId = String(c.id);
    this.el.classList.toggle("audio-only", !c.video && !c.camTrack);
    if (this.remoteVideo.srcObject !== c.remote) this.remoteVideo.srcObject = c.remote;
    if (this.localVideo.srcObject !== (c.local ?? null)) this.localVideo.srcObject = c.local ?? null;
    this.status.textContent = this.statusText(c);
    this.emoji.textContent = c.emoji.join(" ");
    this.el.dataset.localFingerprint = c.fingerprints?.[0] ?? "";
    this.el.dataset.remoteFingerprint = c.fingerprints?.[1] ?? "";
    this.emoji.title = c.emoji.length ? "Both of you should see the same four emoji" : "";
    this.renderInfo(c);
    this.renderControls(c);
    clearInterval(this.timer);
    if (c.phase === "active") this.timer = window.setInterval(() => this.renderInfo(c), 1000);
  }

  private statusText(c: Call): string {
    const who = "@" + c.peer;
    switch (c.phase) {
      case "incoming": return `${who} is calling${c.video ? " (video)" : ""}…`;
      case "outgoing": return `Calling ${who}… ${c.endText}`.trim();
      case "connecting": return `Connecting to ${who}…`;
      case "active": {
        const rm = c.remoteMedia;
        const notes = [rm.screen ? "sharing their screen" : "", rm.audio ? "" : "muted",
          rm.video || rm.screen || !c.video ? "" : "camera off"].filter(Boolean);
        return `In call with ${who}${notes.length ? ` (${notes.join(", ")})` : ""}`;
      }
      case "ended": return c.endText || "Call ended";
    }
  }

  private renderInfo(c: Call): void {
    const st = c.stats;
    const parts: string[] = [];
    if (c.phase === "active") parts.push(duration(Date.now() - c.acceptedAt));
    const q = quality(c);
    if (q) parts.push(`quality: ${q}`);
    if (st && st.audioLevel > 0.02) parts.push("speaking");
    if (st?.localType === "relay") parts.push("relayed");
    this.info.textContent = parts.join(" · ");
    const d = this.el.dataset;
    d.framesDecoded = String(st?.videoFrames ?? 0);
    d.audioPackets = String(st?.audioPackets ?? 0);
    d.frameWidth = String(st?.frameWidth ?? 0);
    d.localCandidate = st?.localType ?? "";
    d.quality = q;
  }

  private button(label: string, onclick: () => unknown, cls = "", pressed?: boolean): HTMLButtonElement {
    return h("button", { class: cls, onclick: () => void onclick(),
      "aria-pressed": pressed === undefined ? null : String(pressed) }, label);
  }

  private renderControls(c: Call): void {
    const calls = this.calls;
    // Rebuilding on every stats tick would take the keyboard focus away from the buttons.
    const k = [c.id, c.phase, c.muted, c.cameraOff, !!c.camTrack, c.screen, c.noiseSuppression].join("|");
    if (k === this.controlsKey && this.controls.firstChild) return;
    this.controlsKey = k;
    clear(this.controls);
    switch (c.phase) {
      case "incoming":
        append(this.controls, this.button("Accept", () => calls.accept(), "primary"),
          this.button("Decline", () => calls.decline(), "danger"));
        return;
      case "outgoing":
        append(this.controls, this.button("Cancel", () => calls.hangup(), "danger"));
        return;
      case "connecting":
      case "active": {
        const ns = h("input", { type: "checkbox", checked: c.noiseSuppression,
          onchange: () => void calls.setNoiseSuppression(ns.checked) });
        append(this.controls,
          this.button(c.muted ? "Unmute" : "Mute", () => calls.toggleMute(), "", c.muted),
          this.button(c.cameraOff || !c.camTrack ? "Camera on" : "Camera off", () => calls.toggleCamera(), "",
            c.cameraOff || !c.camTrack),
          this.button(c.screen ? "Stop sharing" : "Share screen", () => calls.toggleScreen(), "", c.screen),
          h("label", { class: "call-ns" }, ns, "Noise suppression and echo cancellation"),
          this.button("Hang up", () => calls.hangup(), "danger"));
        return;
      }
      case "ended":
        append(this.controls, this.button("Close", () => calls.dismiss()));
    }
  }
}
