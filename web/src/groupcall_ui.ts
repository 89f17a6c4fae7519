// groupcall_ui.ts: the group-call screen, drawn over the app: a grid of up to 30 videos with
// the active speaker highlighted, a presenter layout while someone shares a screen (the share
// big, cameras in a strip), the participant list (muted, hand raised), the membership emoji,
// and the controls (mute, camera, screen share, raise hand, noise suppression, leave).
// Layout is CSS (groupcall.css): a side list on desktop, below the grid on tablets.
//
// Trust (docs/GROUP_CALLS.md, section 2): each list entry says whether that participant's
// signed call key is verified, pinned, changed, unverified or not signed yet (data-trust);
// clicking it shows the device's 128-bit safety number, to compare with the number the other
// person's screen shows under "Your device", and "Mark as verified" / "Accept new key". The
// emoji are labelled as a membership aid, not the security check.
//
// Tiles are kept across renders (a video element keeps playing); each tile reports the
// frames its video decoded and the audio bytes received as data- attributes, and the screen
// the E2EE counters and key epoch, so the browser tests read what the user sees.
//
// A subscriber only receives what it shows: the grid scrolls when tiles do not fit, and a tile
// no part of which is in view (IntersectionObserver), or whose camera is off, is subscribed
// audio only (height 0), which frees its video slot at the SFU; the others at the height they
// are drawn, measured again when the grid is resized.
import { type GroupCall, type GroupCalls, type NoiseMode, type Tile, type Trust } from "./groupcall";
import { append, clear, h } from "./dom";

const TRUST_LABEL: Record<Trust, string> = {
  self: "", pending: " ⏳ not signed yet", bad: " ✖ unverified", changed: " ⚠ safety number changed",
  pinned: " • key pinned", verified: " ✔ verified",
};
const TRUST_TEXT: Record<Trust, string> = {
  self: "",
  pending: "This device has not signed its call key yet: it gets no keys from you until it does.",
  bad: "This device's call key is not signed by its identity key. It gets no keys from you and " +
    "you do not decrypt what it sends: someone (the server?) may have swapped its key.",
  changed: "This device's identity key is not the one you saw before. It gets no keys from you " +
    "until you compare the safety number again and accept the new key.",
  pinned: "Its signed call key matches the identity key first seen for this device. Compare " +
    "the safety number to be sure nobody swapped it the first time.",
  verified: "You compared this device's safety number: its call key is checked automatically.",
};

export class GroupCallScreen {
  private el: HTMLElement;
  private grid: HTMLElement;
  private list: HTMLElement;
  private emoji: HTMLElement;
  private identity: HTMLElement;
  private details: HTMLElement;
  private detailId = 0;                          // the participant whose details are open
  private title: HTMLElement;
  private controls: HTMLElement;
  private tiles = new Map<number, { el: HTMLElement; video: HTMLVideoElement; audio: HTMLAudioElement;
    label: HTMLElement }>();
  private selfView: HTMLVideoElement;
  private call: GroupCall | null = null;
  private inView = new Map<number, boolean>();   // tile id -> any of it visible in the grid
  private seen: IntersectionObserver;

  constructor(private calls: GroupCalls) {
    this.grid = h("div", { class: "gc-grid", role: "list", "aria-label": "Participants' videos" });
    this.list = h("ul", { class: "gc-list", "aria-label": "Participants" });
    this.emoji = h("p", { class: "gc-emoji", "aria-label": "Membership emoji" });
    this.identity = h("p", { class: "gc-identity" });
    this.details = h("div", { class: "gc-details", "aria-label": "Participant details" });
    this.title = h("h2", { class: "gc-title" });
    this.controls = h("div", { class: "gc-controls" });
    this.selfView = h("video", { class: "gc-self", autoplay: true, playsinline: true, muted: true,
      "aria-label": "Your video" });
    this.selfView.muted = true;
    this.el = h("section", { class: "groupcall hidden", role: "dialog", "aria-label": "Group call" },
      h("div", { class: "gc-main" }, this.title, this.grid, this.selfView, this.controls),
      h("aside", { class: "gc-side" }, this.identity,
        h("p", { class: "gc-emoji-note" }, "Who is in the call (an aid, not a security check):"),
        this.emoji, this.list, this.details));
    document.body.appendChild(this.el);
    calls.view = this;
    this.seen = new IntersectionObserver((entries) => {
      for (const e of entries) this.inView.set(Number((e.target as HTMLElement).dataset.id), e.isIntersecting);
      this.reportHeights();
    }, { root: this.grid });
    new ResizeObserver(() => this.reportHeights()).observe(this.grid);   // lives as long as the grid
  }

  show(c: GroupCall | null): void {
    this.call = c;
    if (!c) { this.el.classList.add("hidden"); this.dropTiles(new Set()); return; }
    this.el.classList.remove("hidden");
    const d = this.el.dataset;
    d.callId = String(c.callId);
    d.ended = c.ended ? "1" : "";
    const s = c.e2ee?.stats();
    d.encrypted = String(s?.encrypted ?? 0);
    d.decrypted = String(s?.decrypted ?? 0);
    d.decryptFailed = String((s?.failed ?? 0) + (s?.noKey ?? 0));
    d.epoch = String(c.e2ee?.epoch ?? 0);
    this.title.textContent = c.ended || `${c.title}: ${c.parts.size} in the call`;
    this.emoji.textContent = c.emoji.join(" ");
    this.identity.textContent = c.identityError ||
      (c.selfNumber ? `Your device's safety number: ${c.selfNumber}` : "");
    this.identity.dataset.number = c.selfNumber;
    if (this.selfView.srcObject !== c.local) this.selfView.srcObject = c.local;
    const presenting = [...c.tiles.values()].some((t) => t.presentation);
    this.el.classList.toggle("presenting", presenting);
    this.grid.dataset.count = String(c.tiles.size);
    this.renderTiles(c);
    this.renderList(c);
    this.renderControls(c);
  }

  private dropTiles(keep: Set<number>): void {
    for (const [id, t] of this.tiles) {
      if (keep.has(id)) continue;
      this.seen.unobserve(t.el);
      t.el.remove();
      this.tiles.delete(id);
      this.inView.delete(id);
    }
  }

  private renderTiles(c: GroupCall): void {
    this.dropTiles(new Set(c.tiles.keys()));
    for (const t of c.tiles.values()) {
      let v = this.tiles.get(t.id);
      if (!v) {
        const video = h("video", { autoplay: true, playsinline: true, muted: true });
        video.muted = true;   // audio plays from its own element
        const audio = h("audio", { autoplay: true });
        const label = h("span", { class: "gc-name" });
        const el = h("div", { class: "gc-tile", role: "listitem", "data-id": String(t.id) }, video, audio, label);
        this.grid.appendChild(el);
        v = { el, video, audio, label };
        this.tiles.set(t.id, v);
        this.seen.observe(el);
      }
      this.fillTile(c, t, v);
    }
    this.reportHeights();
  }

  // Tells the call what each tile is drawn at (0: not shown), so it subscribes to the right
  // layer or to audio only. A tile the observer has not reported on yet keeps the default.
  private reportHeights(): void {
    const c = this.call;
    if (!c) return;
    let changed = false;
    for (const [id, v] of this.tiles) {
      const t = c.tiles.get(id), visible = this.inView.get(id);
      if (!t || visible === undefined) continue;
      const px = !visible || (!t.video && !t.presentation) ? 0
        : Math.round(v.el.clientHeight * (window.devicePixelRatio || 1));
      if (px === 0 && visible && t.video) continue;   // laid out but not measured yet
      if (c.heights.get(id) !== px) { c.heights.set(id, px); changed = true; }
    }
    if (changed) void c.subscribe();
  }

  private fillTile(c: GroupCall, t: Tile, v: { el: HTMLElement; video: HTMLVideoElement;
    audio: HTMLAudioElement; label: HTMLElement }): void {
    const vs = t.track ? new MediaStream([t.track]) : null;
    if (t.track && (v.video.srcObject as MediaStream | null)?.getTracks()[0] !== t.track) v.video.srcObject = vs;
    // Without a video slot (audio only) the old track may go to someone else's video next.
    if (!t.track && v.video.srcObject) v.video.srcObject = null;
    if (t.audioTrack && (v.audio.srcObject as MediaStream | null)?.getTracks()[0] !== t.audioTrack)
      v.audio.srcObject = new MediaStream([t.audioTrack]);
    v.label.textContent = (t.presentation ? `${t.name} (screen)` : t.name) +
      (t.audio || t.presentation ? "" : " 🔇") + (t.hand ? " ✋" : "");
    v.el.classList.toggle("speaker", c.speaker === t.id);
    v.el.classList.toggle("presentation", t.presentation);
    v.el.classList.toggle("no-video", !t.video && !t.presentation);
    v.el.dataset.frames = String(t.frames);
    v.el.dataset.audioBytes = String(t.audioBytes);
    v.el.dataset.name = t.name;
    v.el.dataset.muted = t.audio ? "0" : "1";
    v.el.dataset.hand = t.hand ? "1" : "0";
    v.el.dataset.shown = t.track ? "1" : "0";
    v.el.dataset.trust = c.trustOfPart(t.id);
  }

  private renderList(c: GroupCall): void {
    clear(this.list);
    for (const p of c.parts.values()) {
      if (p.presentationOf) continue;
      const trust = c.trustOfPart(p.participantId);
      append(this.list, h("li", { "data-id": String(p.participantId), "data-trust": trust,
        "data-name": p.user?.username ?? "?", tabindex: "0", role: "button",
        onclick: () => { this.detailId = p.participantId; this.show(c); } },
      (p.user?.username ?? "?") + (p.participantId === c.me ? " (you)" : ""),
      p.audio ? "" : " 🔇", p.handRaised ? " ✋" : "", TRUST_LABEL[trust]));
    }
    this.renderDetails(c);
  }

  // One participant's device: its safety number and what the user can do about it.
  private renderDetails(c: GroupCall): void {
    clear(this.details);
    const p = c.parts.get(this.detailId);
    const info = c.trust.get(this.detailId);
    if (!p || !info || p.participantId === c.me) return;
    const act = (accept: boolean) => () => { void c.setVerified(p.participantId, accept).catch(() => {}); };
    append(this.details,
      h("h3", {}, p.user?.username ?? "?"),
      h("p", {}, TRUST_TEXT[info.trust]),
      info.safetyNumber ? h("p", { class: "gc-number", "data-number": info.safetyNumber },
        `Safety number of this device: ${info.safetyNumber}`) : "",
      info.safetyNumber ? h("p", {}, "Compare it with the number their screen shows as \"Your device's " +
        "safety number\", in person or on a channel you trust. The emoji are not enough.") : "",
      info.trust === "pinned" ? h("button", { onclick: act(false) }, "Mark as verified") : "",
      info.trust === "changed" ? h("button", { onclick: act(true) }, "Accept new key") : "",
      h("button", { onclick: () => { this.detailId = 0; this.show(c); } }, "Close details"));
  }

  private renderControls(c: GroupCall): void {
    const key = [c.muted, c.cameraOff, c.sharing, c.hand, !!c.ended].join();
    if (this.controls.dataset.key === key) return;
    this.controls.dataset.key = key;
    clear(this.controls);
    const act = (f: () => Promise<void>) => () => { void f().catch(() => {}); };
    if (c.ended) {
      append(this.controls, h("button", { onclick: () => this.calls.close() }, "Close"));
      return;
    }
    append(this.controls,
      h("button", { "aria-pressed": String(c.muted), onclick: act(async () => { c.muted = !c.muted; await c.setFlags(); }) },
        c.muted ? "Unmute" : "Mute"),
      h("button", { "aria-pressed": String(c.cameraOff), onclick: act(async () => { c.cameraOff = !c.cameraOff; await c.setFlags(); }) },
        c.cameraOff ? "Camera on" : "Camera off"),
      h("button", { onclick: act(() => c.shareScreen()) }, c.sharing ? "Stop sharing" : "Share screen"),
      h("button", { "aria-pressed": String(c.hand), onclick: act(async () => { c.hand = !c.hand; await c.setFlags(); }) },
        c.hand ? "Lower hand" : "Raise hand"),
      this.noiseSelect(c),
      h("button", { class: "gc-leave", onclick: act(() => c.leave()) }, "Leave"));
  }

  // The browser's noise suppression (default), RNNoise (noise.ts) or none. The call keeps the
  // choice: the controls are redrawn on other changes.
  private noiseSelect(c: GroupCall): HTMLElement {
    const sel = h("select", { "aria-label": "Noise suppression" },
      h("option", { value: "browser" }, "Noise suppression: browser"),
      h("option", { value: "rnnoise" }, "Noise suppression: RNNoise"),
      h("option", { value: "off" }, "Noise suppression: off"));
    sel.value = c.noise;
    sel.addEventListener("change", () => {
      void c.setNoise(sel.value as NoiseMode).catch(() => { sel.value = c.noise; });
    });
    return h("label", {}, sel);
  }
}
