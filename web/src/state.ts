// state.ts: what the client knows (chats, loaded messages, the update position) and the
// sync rules of docs/PROTOCOL.md: apply a push with pts == local+1, ignore pts <= local, on
// a gap ask GetDifference(local); a result of our own request covers the positions
// pts-ptsCount+1..pts (never pushed to us). Every change is idempotent (messages are keyed
// by chat and id), so an update seen twice — in a result or pushed, and again in a
// difference — changes nothing the second time.
import {
  ChatKind, MessageKind,
  type Chat, type Message, type Update, type User,
} from "./gen/parley_pb";
import type { Client, Result } from "./client";

export type Key = string;  // a chat id as a string (Map keys)
export const key = (id: bigint): Key => id.toString();

// The loaded part of one chat's history: always a contiguous run ending at the newest
// message, growing backwards page by page.
export class ChatMsgs {
  list: Message[] = [];
  complete = false;   // the oldest message is loaded
  loading = false;

  find(id: bigint): number {
    let lo = 0, hi = this.list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.list[mid].id < id) lo = mid + 1; else hi = mid;
    }
    return lo;
  }
  get(id: bigint): Message | undefined {
    const i = this.find(id);
    return this.list[i]?.id === id ? this.list[i] : undefined;
  }
  put(m: Message): void {
    const i = this.find(m.id);
    if (this.list[i]?.id === m.id) this.list[i] = m;
    else this.list.splice(i, 0, m);
  }
  remove(ids: bigint[]): boolean {
    const drop = new Set(ids.map(String));
    const before = this.list.length;
    this.list = this.list.filter((m) => !drop.has(m.id.toString()));
    return this.list.length !== before;
  }
}

type Listener = (what: "chats" | "messages" | "chat" | "sessions", chat?: Key) => void;

export class State {
  me: User | null = null;
  pts = 0n;
  chats = new Map<Key, Chat>();
  msgs = new Map<Key, ChatMsgs>();
  openChat: Key | null = null;
  private listeners: Listener[] = [];
  private syncing = false;
  private gap = false;

  constructor(private client: Client) {}

  on(l: Listener): void { this.listeners.push(l); }
  emit(what: Parameters<Listener>[0], chat?: Key): void {
    for (const l of this.listeners) l(what, chat);
  }

  reset(): void {
    this.me = null;
    this.pts = 0n;
    this.chats.clear();
    this.msgs.clear();
    this.openChat = null;
  }

  // After (re)authentication. First time: take the server's position and load the list.
  // Again: fetch the difference since our position, then refresh the list's counters.
  async ready(me: User, serverPts: bigint, reconnect: boolean): Promise<void> {
    this.me = me;
    if (!reconnect || this.pts === 0n) {
      this.pts = serverPts;
      await this.loadChats();
    } else {
      await this.difference();
      await this.loadChats();
    }
  }

  async loadChats(): Promise<void> {
    const r = await this.client.call({ case: "getChats", value: {} });
    if (r.case !== "chats") return;
    const seen = new Set<Key>();
    for (const c of r.value.chats) {
      seen.add(key(c.id));
      this.chats.set(key(c.id), c);
    }
    for (const k of [...this.chats.keys()]) if (!seen.has(k)) this.chats.delete(k);
    this.emit("chats");
  }

  async refreshChat(id: bigint): Promise<void> {
    try {
      const r = await this.client.call({ case: "getChat", value: { chatId: id } });
      if (r.case === "chat") {
        this.chats.set(key(id), r.value);
        this.emit("chats");
        this.emit("chat", key(id));
      }
    } catch { /* gone meanwhile: a chat_removed follows */ }
  }

  // ---- the update stream -------------------------------------------------------------

  onUpdate(u: Update): void {
    if (u.pts <= this.pts) return;
    if (this.syncing || u.pts !== this.pts + 1n) {
      this.gap = true;
      void this.difference();
      return;
    }
    this.apply(u);
    this.pts = u.pts;
  }

  // A result of our own request: it added `count` entries ending at `pts` to the account's
  // log (applied by the caller). Move past them; if entries before them are missing, fetch
  // the difference (it brings this request's entries again, which changes nothing).
  acknowledge(pts: bigint, count: number): void {
    if (count === 0 || pts <= this.pts) return;
    if (!this.syncing && this.pts >= pts - BigInt(count)) this.pts = pts;
    else { this.gap = true; void this.difference(); }
  }

  async difference(): Promise<void> {
    if (this.syncing) return;
    this.syncing = true;
    try {
      do {
        this.gap = false;
        let more = true;
        while (more) {
          const r = await this.client.call({
            case: "getDifference", value: { sincePts: this.pts, limit: 500 },
          });
          if (r.case !== "difference") break;
          for (const u of r.value.updates) if (u.pts > this.pts) this.apply(u);
          if (r.value.pts > this.pts) this.pts = r.value.pts;
          more = r.value.more;
        }
      } while (this.gap);
    } finally {
      this.syncing = false;
    }
  }

  private apply(u: Update): void {
    const k = u.kind;
    switch (k.case) {
      case "newMessage": this.addMessage(k.value, true); break;
      case "editMessage": this.addMessage(k.value, false); break;
      case "deleteMessages":
      case "hideMessages": this.removeMessages(k.value.chatId, k.value.ids); break;
      case "read": {
        const c = this.chats.get(key(k.value.chatId));
        if (!c) break;
        if (this.me && k.value.byUser === this.me.id) {
          if (k.value.maxId > c.readInboxMaxId) c.readInboxMaxId = k.value.maxId;
          if (c.readInboxMaxId >= c.topMessageId) c.unread = 0;
          else void this.refreshChat(c.id);
        } else if (k.value.maxId > c.readOutboxMaxId) {
          c.readOutboxMaxId = k.value.maxId;
          this.emit("messages", key(c.id));
        }
        this.emit("chats");
        break;
      }
      case "chat": this.putChat(k.value); break;
      case "chatRemoved":
        this.chats.delete(key(k.value.chatId));
        this.msgs.delete(key(k.value.chatId));
        this.emit("chats");
        this.emit("chat", key(k.value.chatId));
        break;
      case "sessionEnded": this.emit("sessions"); break;
      default: break;
    }
  }

  putChat(c: Chat): void {
    const old = this.chats.get(key(c.id));
    // A chat update may not carry the caller's counters: keep what we know.
    if (old && !c.lastMessage && old.lastMessage) c.lastMessage = old.lastMessage;
    this.chats.set(key(c.id), c);
    this.emit("chats");
    this.emit("chat", key(c.id));
  }

  addMessage(m: Message, isNew: boolean): void {
    const k = key(m.chatId);
    const c = this.chats.get(k);
    const ms = this.msgs.get(k);
    const known = ms?.get(m.id);
    if (ms) ms.put(m);
    if (!c) {
      void this.refreshChat(m.chatId);
    } else {
      if (m.id >= c.topMessageId) {
        if (isNew && m.id > c.topMessageId && !known && this.me && m.fromUser !== this.me.id &&
            m.kind === MessageKind.TEXT && m.id > c.readInboxMaxId) {
          c.unread += 1;
        }
        c.topMessageId = m.id;
        c.lastMessage = m;
      } else if (c.lastMessage?.id === m.id) {
        c.lastMessage = m;
      }
    }
    this.emit("chats");
    this.emit("messages", k);
  }

  removeMessages(chatId: bigint, ids: bigint[]): void {
    const k = key(chatId);
    this.msgs.get(k)?.remove(ids);
    const c = this.chats.get(k);
    if (c?.lastMessage && ids.includes(c.lastMessage.id)) void this.refreshChat(chatId);
    this.emit("messages", k);
    this.emit("chats");
  }

  // ---- history -------------------------------------------------------------------------

  history(k: Key): ChatMsgs {
    let ms = this.msgs.get(k);
    if (!ms) { ms = new ChatMsgs(); this.msgs.set(k, ms); }
    return ms;
  }

  // Loads the page before the oldest loaded message (or the newest page).
  async loadOlder(k: Key, limit = 100): Promise<void> {
    const ms = this.history(k);
    if (ms.loading || ms.complete) return;
    ms.loading = true;
    try {
      const before = ms.list.length ? ms.list[0].id : 0n;
      const r = await this.client.call({
        case: "getHistory", value: { chatId: BigInt(k), beforeId: before, limit },
      });
      if (r.case !== "messages") return;
      for (const m of r.value.messages) if (!ms.get(m.id)) ms.put(m);
      // A page may hold fewer than `limit` (the server caps a page at about 1 MiB): only
      // `more` says whether older messages remain.
      if (!r.value.more) ms.complete = true;
    } finally {
      ms.loading = false;
    }
    this.emit("messages", k);
  }

  // ---- helpers -------------------------------------------------------------------------

  chatTitle(c: Chat): string {
    return c.kind === ChatKind.PRIVATE ? "@" + c.title : c.title;
  }

  // Our own request's result: apply what it returns and advance the position. A ChatResult
  // carries its entries (the chat change, the service messages such as "renamed the group",
  // or chat_removed after leaving): they show at once, as if pushed.
  applyResult(r: Result, chatId?: bigint): void {
    const v = r.value;
    switch (r.case) {
      case "sent": if (r.value.message) this.addMessage(r.value.message, true); break;
      case "edited": if (r.value.message) this.addMessage(r.value.message, false); break;
      case "deleted": if (chatId !== undefined) this.removeMessages(chatId, r.value.deleted); break;
      case "chatResult":
        for (const u of r.value.updates) this.apply(u);
        if (r.value.chat) this.putChat(r.value.chat);
        break;
      case "terminated": this.emit("sessions"); break;
      default: break;
    }
    if (v && "ptsCount" in v) this.acknowledge(v.pts, v.ptsCount);
  }
}
