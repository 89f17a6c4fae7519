// msglist.ts: a windowed message list. Only the messages in and near the viewport are in
// the DOM (absolutely positioned inside one tall spacer), so a chat with 10,000 loaded
// messages scrolls as smoothly as one with 10. Heights are measured once rendered and
// estimated before; an anchor (the first visible message and its offset) keeps the view
// still when older pages arrive above it or heights change.

const ESTIMATE = 56;     // px, a one-line message
const OVERSCAN = 800;    // px rendered beyond each edge of the viewport

export interface ListItem { key: string; }

export class MsgList<T extends ListItem> {
  readonly el: HTMLElement;
  private inner: HTMLElement;
  private items: T[] = [];
  private heights = new Map<string, number>();
  private offsets: number[] = [0];
  private nodes = new Map<string, HTMLElement>();
  private stick = true;          // follow the newest message
  private raf = 0;
  onNearTop: () => void = () => {};

  constructor(private render: (item: T) => HTMLElement, label: string) {
    this.el = document.createElement("div");
    this.el.className = "messages";
    this.el.setAttribute("role", "log");
    this.el.setAttribute("aria-label", label);
    this.el.tabIndex = 0;
    this.inner = document.createElement("div");
    this.inner.className = "msgs-inner";
    this.el.appendChild(this.inner);
    this.el.addEventListener("scroll", () => this.onScroll(), { passive: true });
    new ResizeObserver(() => { this.computeOffsets(); this.schedule(); }).observe(this.el);
  }

  private onScroll(): void {
    const bottom = this.el.scrollHeight - this.el.clientHeight;
    this.stick = this.el.scrollTop >= bottom - 8;
    this.schedule();
    if (this.el.scrollTop < OVERSCAN * 1.5) this.onNearTop();
  }

  private schedule(): void {
    if (!this.raf) this.raf = requestAnimationFrame(() => { this.raf = 0; this.layout(); });
  }

  // Replaces the items (same keys keep their node and measured height).
  set(items: T[], forceRerender = false): void {
    const anchor = this.anchor();
    this.items = items;
    if (forceRerender) {
      for (const n of this.nodes.values()) n.remove();
      this.nodes.clear();
    }
    this.computeOffsets();
    this.restore(anchor);
    this.layout();
  }

  // Re-renders one item (its content changed).
  refresh(key: string): void {
    const n = this.nodes.get(key);
    if (n) { n.remove(); this.nodes.delete(key); }
    this.schedule();
  }

  scrollToBottom(): void {
    this.stick = true;
    this.el.scrollTop = this.el.scrollHeight;
    this.layout();
  }

  get atBottom(): boolean { return this.stick; }

  private computeOffsets(): void {
    const o = new Array<number>(this.items.length + 1);
    o[0] = 0;
    for (let i = 0; i < this.items.length; i++) {
      o[i + 1] = o[i] + (this.heights.get(this.items[i].key) ?? ESTIMATE);
    }
    this.offsets = o;
    const total = o[this.items.length];
    this.inner.style.height = `${total}px`;
    // A short chat sits at the bottom, next to the composer, as in any messenger.
    this.inner.style.marginTop = `${Math.max(0, this.el.clientHeight - total)}px`;
  }

  private indexAt(y: number): number {
    let lo = 0, hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.offsets[mid + 1] <= y) lo = mid + 1; else hi = mid;
    }
    return lo;
  }

  private anchor(): { key: string; delta: number } | null {
    if (this.stick || this.items.length === 0) return null;
    const i = this.indexAt(this.el.scrollTop);
    const it = this.items[i];
    return it ? { key: it.key, delta: this.offsets[i] - this.el.scrollTop } : null;
  }

  private restore(a: { key: string; delta: number } | null): void {
    if (!a) {
      if (this.stick) this.el.scrollTop = this.el.scrollHeight;
      return;
    }
    const i = this.items.findIndex((it) => it.key === a.key);
    if (i < 0) return;
    this.el.scrollTop = this.offsets[i] - a.delta;
  }

  private layout(): void {
    const top = this.el.scrollTop, h = this.el.clientHeight || 600;
    const first = Math.max(0, this.indexAt(top - OVERSCAN));
    const last = Math.min(this.items.length, this.indexAt(top + h + OVERSCAN) + 1);
    const want = new Set<string>();
    const fresh: HTMLElement[] = [];
    for (let i = first; i < last; i++) {
      const it = this.items[i];
      want.add(it.key);
      let n = this.nodes.get(it.key);
      if (!n) {
        n = this.render(it);
        this.nodes.set(it.key, n);
        this.inner.appendChild(n);
        fresh.push(n);
      }
      n.style.top = `${this.offsets[i]}px`;
    }
    for (const [k, n] of this.nodes) {
      if (!want.has(k)) { n.remove(); this.nodes.delete(k); }
    }
    // Measure what was just rendered; if any estimate was wrong, lay out again around
    // the anchor (one extra pass: measured heights do not change again).
    let changed = false;
    for (let i = first; i < last; i++) {
      const it = this.items[i];
      const n = this.nodes.get(it.key)!;
      if (!fresh.includes(n) && this.heights.has(it.key)) continue;
      const real = n.offsetHeight;
      if (real && real !== this.heights.get(it.key)) {
        this.heights.set(it.key, real);
        if (real !== ESTIMATE) changed = true;
      }
    }
    if (changed) {
      const anchor = this.anchor();
      this.computeOffsets();
      this.restore(anchor);
      for (let i = first; i < last; i++) {
        const n = this.nodes.get(this.items[i].key);
        if (n) n.style.top = `${this.offsets[i]}px`;
      }
      if (this.stick) this.el.scrollTop = this.el.scrollHeight;
    }
  }
}
