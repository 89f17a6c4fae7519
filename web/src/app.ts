// app.ts: the views: login, the chat list, the open chat, and the dialogs (new chat, new
// group, chat settings, sessions, message actions). Plain DOM through dom.ts; every text
// from the network is set as text.
import { ApiError, Client, webAuth, webLogout } from "./client";
import { CallOutcome, ChatKind, ErrorCode, MessageKind, Role, ServiceAction,
  type Chat, type Message } from "./gen/parley_pb";
import { Calls } from "./call";
import { CallScreen } from "./call_ui";
import { GroupCalls } from "./groupcall";
import { GroupCallScreen } from "./groupcall_ui";
import { append, clear, fullTime, h, say, shortTime } from "./dom";
import { MsgList } from "./msglist";
import { key, State, type Key } from "./state";

const TIMERS: [string, number][] = [
  ["Off", 0], ["5 seconds", 5], ["30 seconds", 30], ["1 minute", 60], ["5 minutes", 300],
  ["1 hour", 3600], ["1 day", 86400], ["1 week", 604800],
];

interface MsgItem { key: string; m: Message; }

function errText(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  return e instanceof Error ? e.message : String(e);
}

// A SendMessage key: unique per (chat, sender) and increasing, as libparley's
// pl_new_random_id (src/lib/api_message.c says why: the server's index takes increasing keys
// on one page instead of a random page per message). Milliseconds since 2020-01-01 << 23 plus
// 23 random bits, and at least the last key of this page + 1.
let lastRandomId = 0n;
function randomId(): bigint {
  const low = new Uint32Array(1);
  crypto.getRandomValues(low);
  const ms = BigInt(Math.max(0, Date.now() - 1577836800000)) & ((1n << 41n) - 1n);
  let id = (ms << 23n) | BigInt(low[0] & 0x7fffff);
  if (id <= lastRandomId) id = lastRandomId + 1n;
  if (id === 0n) id = 1n;
  lastRandomId = id;
  return id;
}

function deviceName(): string {
  const ua = navigator.userAgent;
  const b = /Firefox\//.test(ua) ? "Firefox" : /Edg\//.test(ua) ? "Edge"
    : /Chrom(e|ium)\//.test(ua) ? "Chromium" : /Safari\//.test(ua) ? "Safari" : "Browser";
  const os = /Android/.test(ua) ? "Android" : /iPhone|iPad/.test(ua) ? "iOS"
    : /Mac OS/.test(ua) ? "macOS" : /Windows/.test(ua) ? "Windows" : /Linux/.test(ua) ? "Linux" : "";
  return `Web: ${b}${os ? " on " + os : ""}`;
}

function serviceText(m: Message): string {
  const who = m.fromUsername || "someone";
  const users = m.serviceUsers.map((u) => u.username).join(", ");
  switch (m.serviceAction) {
    case ServiceAction.GROUP_CREATED: return `${who} created the group “${m.serviceTitle}”`;
    case ServiceAction.MEMBERS_ADDED: return `${who} added ${users}`;
    case ServiceAction.MEMBER_REMOVED: return `${who} removed ${users}`;
    case ServiceAction.MEMBER_LEFT: return `${who} left`;
    case ServiceAction.TITLE_CHANGED: return `${who} renamed the group to “${m.serviceTitle}”`;
    case ServiceAction.AUTODELETE_CHANGED:
      return m.serviceSeconds ? `${who} set auto-delete to ${timerName(m.serviceSeconds)}`
        : `${who} turned auto-delete off`;
    case ServiceAction.ROLE_CHANGED: return `${who} changed the role of ${users}`;
    default: return "";
  }
}

// A call's history entry, as seen by `me` (the entry's sender is the caller).
function callText(m: Message, me: bigint | undefined): string {
  const ci = m.call;
  const kind = ci?.video ? "video call" : "voice call";
  const out = m.fromUser === me;
  const dir = out ? "Outgoing" : "Incoming";
  const secs = ci?.duration ?? 0;
  const hms = (secs >= 3600 ? `${Math.floor(secs / 3600)}:${String(Math.floor(secs / 60) % 60).padStart(2, "0")}`
    : `${Math.floor(secs / 60)}`) + `:${String(secs % 60).padStart(2, "0")}`;
  switch (ci?.outcome) {
    case CallOutcome.CALL_ENDED: return `${dir} ${kind} · ${hms}`;
    case CallOutcome.GROUP_CALL_STARTED: return `${out ? "You" : m.fromUsername} started a group call`;
    case CallOutcome.GROUP_CALL_ENDED: return `Group call ended · ${hms}`;
    case CallOutcome.CALL_MISSED: return out ? `Unanswered ${kind}` : `Missed ${kind}`;
    case CallOutcome.CALL_DECLINED: return `Declined ${kind}`;
    case CallOutcome.CALL_BUSY_OUTCOME: return out ? `${dir} ${kind}: busy` : `Missed ${kind} (you were busy)`;
    case CallOutcome.CALL_CANCELLED: return out ? `Cancelled ${kind}` : `Missed ${kind}`;
    default: return "Call";
  }
}

function timerName(s: number): string {
  const t = TIMERS.find(([, v]) => v === s);
  return t ? t[0] : `${s} s`;
}

export class App {
  private client: Client;
  private state: State;
  private shell: HTMLElement | null = null;
  private listEl!: HTMLUListElement;
  private search!: HTMLInputElement;
  private meEl!: HTMLElement;
  private main!: HTMLElement;
  private head!: HTMLElement;
  private list: MsgList<MsgItem> | null = null;
  private composer!: HTMLTextAreaElement;
  private ttl!: HTMLSelectElement;
  private banner!: HTMLElement;
  private replyTo: Message | null = null;
  private editing: Message | null = null;
  private sessionsDialog: HTMLDialogElement | null = null;
  private calls: Calls;
  private groupCalls: GroupCalls;

  constructor(private root: HTMLElement) {
    this.client = new Client({
      onReady: (auth, again) => { void this.onReady(auth.user!, auth.pts, again); },
      onUpdate: (u) => this.state.onUpdate(u),
      onCall: (ev) => this.calls.onEvent(ev),
      onGroupCall: (ev) => this.groupCalls.onEvent(ev),
      onLoggedOut: (why) => this.showLogin(why),
      onState: (t) => say(t),
    });
    this.state = new State(this.client);
    this.state.on((what, k) => this.onChange(what, k));
    this.calls = new Calls(this.client);
    new CallScreen(this.calls);
    this.groupCalls = new GroupCalls(this.client, () => this.state.me?.id ?? 0n);
    new GroupCallScreen(this.groupCalls);
    this.groupCalls.onRunning = () => this.renderHead();
  }

  start(): void {
    say("Connecting…");
    this.client.start();
  }

  // ---- login ---------------------------------------------------------------------------

  private showLogin(why = ""): void {
    this.state.reset();
    this.shell = null;
    this.list = null;
    clear(this.root);
    say("");
    const user = h("input", { name: "username", autocomplete: "username", required: true,
      autocapitalize: "none", spellcheck: "false" });
    const pass = h("input", { name: "password", type: "password", required: true,
      autocomplete: "current-password", minlength: 8 });
    // Only servers with registration = invite ask for it (parleyd --make-invite).
    const invite = h("input", { name: "invite", autocomplete: "off", maxlength: 64,
      autocapitalize: "none", spellcheck: "false" });
    const err = h("p", { class: "error", role: "alert" }, why);
    const go = async (kind: "login" | "register") => {
      err.textContent = "";
      if (!user.value || !pass.value) { err.textContent = "Enter a username and a password."; return; }
      try {
        await webAuth(kind, user.value.trim().toLowerCase(), pass.value, deviceName(),
          kind === "register" ? invite.value.trim() : "");
        pass.value = "";
        clear(this.root);
        say("Connecting…");
        this.client.start();   // the new WebSocket carries the cookie
      } catch (e) {
        err.textContent = e instanceof ApiError && e.code === ErrorCode.FLOOD_WAIT
          ? `Too many attempts; try again in ${e.retryAfter} s.` : errText(e);
      }
    };
    const form = h("form", { class: "login", "aria-labelledby": "login-title" },
      h("h1", { id: "login-title" }, "Parley"),
      h("label", {}, "Username", user),
      h("label", {}, "Password", pass),
      h("label", {}, "Invite code (to register, if the server asks)", invite),
      h("div", { class: "row" },
        h("button", { type: "submit", class: "primary" }, "Log in"),
        h("button", { type: "button", onclick: () => void go("register") }, "Register")),
      err);
    form.addEventListener("submit", (e) => { e.preventDefault(); void go("login"); });
    append(this.root, form);
    user.focus();
  }

  private async onReady(me: { id: bigint; username: string }, pts: bigint, again: boolean) {
    const wasShown = this.shell !== null;
    if (!wasShown) this.buildShell();
    this.meEl.textContent = "@" + me.username;
    try {
      await this.state.ready(me as never, pts, again && wasShown);
    } catch (e) {
      say(errText(e));
    }
    this.root.dataset.ready = "1";
    // For bench/web-budget.mjs: navigation start -> chat list rendered and usable.
    if (!again) performance.mark("parley-chatlist-ready");
    if (this.state.openChat) {
      const ms = this.state.history(this.state.openChat);
      if (ms.list.length === 0) void this.state.loadOlder(this.state.openChat);
      this.markRead();
    }
  }

  private async logout(): Promise<void> {
    try { await this.client.call({ case: "logout", value: {} }, { retry: false }); } catch { /* below */ }
    await webLogout();
    this.client.stop();
    this.showLogin("You are logged out.");
  }

  // ---- the shell -------------------------------------------------------------------------

  private buildShell(): void {
    clear(this.root);
    this.meEl = h("span", { class: "me" });
    this.search = h("input", { type: "search", class: "search", placeholder: "Search chats",
      "aria-label": "Search chats", oninput: () => this.renderChats() });
    this.listEl = h("ul", { class: "chatlist", "aria-label": "Chats" });
    const side = h("nav", { class: "sidebar", "aria-label": "Chat list" },
      h("div", { class: "side-head" }, this.meEl,
        h("button", { "aria-label": "New private chat", onclick: () => this.newPrivate() }, "+ Chat"),
        h("button", { "aria-label": "New group", onclick: () => this.newGroup() }, "+ Group"),
        h("button", { onclick: () => void this.sessions() }, "Sessions"),
        h("button", { class: "logout", onclick: () => void this.logout() }, "Log out")),
      this.search, this.listEl);
    this.main = h("main", { class: "main", "aria-label": "Chat" });
    this.shell = h("div", { class: "shell" }, side, this.main);
    append(this.root, this.shell);
    this.renderChatPane();
    document.addEventListener("visibilitychange", () => this.markRead());
  }

  private onChange(what: string, k?: Key): void {
    if (!this.shell) return;
    if (what === "chats") this.renderChats();
    if (what === "sessions" && this.sessionsDialog?.open) void this.fillSessions();
    if (k && k === this.state.openChat) {
      if (what === "messages") { this.renderMessages(); this.markRead(); }
      if (what === "chat") {
        if (!this.state.chats.has(k)) { this.state.openChat = null; this.renderChatPane(); }
        else this.renderHead();
      }
    }
  }

  private renderChats(): void {
    const q = this.search.value.trim().toLowerCase();
    const chats = [...this.state.chats.values()]
      .filter((c) => !q || c.title.toLowerCase().includes(q))
      .sort((a, b) => Number((b.lastMessage?.date ?? b.created) - (a.lastMessage?.date ?? a.created)));
    clear(this.listEl);
    if (chats.length === 0) {
      append(this.listEl, h("li", { class: "empty" }, q ? "No chat matches." : "No chats yet. Start one with “+ Chat”."));
      return;
    }
    for (const c of chats) {
      const last = c.lastMessage;
      const preview = !last ? "" : last.kind === MessageKind.SERVICE ? serviceText(last)
        : last.kind === MessageKind.CALL ? callText(last, this.state.me?.id)
        : (c.kind === ChatKind.GROUP && last.fromUsername ? last.fromUsername + ": " : "") + last.text;
      const label = `${this.state.chatTitle(c)}${c.unread ? `, ${c.unread} unread` : ""}`;
      append(this.listEl, h("li", {},
        h("button", { "aria-label": label, "aria-current": key(c.id) === this.state.openChat ? "true" : null,
          "data-chat": key(c.id), onclick: () => this.open(key(c.id)) },
          h("span", { class: "title" }, this.state.chatTitle(c)),
          h("span", { class: "time" }, last ? shortTime(last.date) : ""),
          h("span", { class: "last" }, preview),
          c.unread ? h("span", { class: "unread", "aria-hidden": "true" }, String(c.unread)) : null)));
    }
  }

  private open(k: Key): void {
    this.state.openChat = k;
    this.replyTo = this.editing = null;
    this.renderChats();
    this.renderChatPane();
    const ms = this.state.history(k);
    if (ms.list.length === 0 && !ms.complete) void this.state.loadOlder(k);
    this.markRead();
    this.composer?.focus();
  }

  private renderChatPane(): void {
    clear(this.main);
    this.shell!.classList.toggle("in-chat", this.state.openChat !== null);
    const k = this.state.openChat;
    if (!k || !this.state.chats.has(k)) {
      this.list = null;
      append(this.main, h("p", { class: "placeholder" }, "Choose a chat, or start one."));
      return;
    }
    this.head = h("header", { class: "chat-head" });
    this.list = new MsgList<MsgItem>((it) => this.renderMsg(it.m), "Messages");
    this.list.onNearTop = () => { if (this.state.openChat) void this.state.loadOlder(this.state.openChat); };
    this.banner = h("div", { class: "banner hidden" });
    this.composer = h("textarea", { rows: 1, "aria-label": "Message", placeholder: "Message",
      maxlength: 4096 });
    this.composer.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); void this.submit(); }
      if (e.key === "Escape") this.cancelCompose();
      if (e.key === "ArrowUp" && !this.composer.value) this.editLast();
    });
    this.composer.addEventListener("input", () => this.autosize());
    this.ttl = h("select", { "aria-label": "Self-destruct timer" },
      ...TIMERS.map(([n, v]) => h("option", { value: v }, v ? `Timer: ${n}` : "No timer")));
    const form = h("form", { class: "composer", "aria-label": "Write a message" }, this.banner,
      h("div", { class: "row" }, this.composer, this.ttl,
        h("button", { type: "submit", class: "primary", "aria-label": "Send" }, "Send")));
    form.addEventListener("submit", (e) => { e.preventDefault(); void this.submit(); });
    append(this.main, this.head, this.list.el, form);
    this.renderHead();
    this.renderMessages(true);
  }

  private renderHead(): void {
    const c = this.state.chats.get(this.state.openChat ?? "");
    if (!c || !this.head) return;
    clear(this.head);
    const sub = c.kind === ChatKind.GROUP ? `${c.memberCount} members` : "private chat";
    append(this.head,
      h("button", { class: "back icon", "aria-label": "Back to chats",
        onclick: () => { this.state.openChat = null; this.renderChats(); this.renderChatPane(); } }, "←"),
      h("h2", {}, this.state.chatTitle(c), " ",
        h("span", { class: "sub" }, sub + (c.autoDelete ? ` · auto-delete ${timerName(c.autoDelete)}` : ""))),
      c.kind === ChatKind.PRIVATE ? this.callButton(c, false) : null,
      c.kind === ChatKind.PRIVATE ? this.callButton(c, true) : null,
      this.groupCallButton(c),
      h("button", { "aria-label": "Chat settings", onclick: () => void this.chatSettings(c) }, "⚙"));
  }

  // "Group call" starts the chat's call; while one runs it says "Join call (n)".
  private groupCallButton(c: Chat): HTMLButtonElement {
    const n = this.groupCalls.running.get(c.id);
    return h("button", { class: "gc-btn" + (n ? " running" : ""), "aria-label": n ? "Join call" : "Group call",
      onclick: () => void this.groupCalls.join(c.id, this.state.chatTitle(c))
        .catch((e) => say(errText(e))) }, n ? `Join call (${n})` : "👥📹");
  }

  private callButton(c: Chat, video: boolean): HTMLButtonElement {
    return h("button", { class: "call-btn", "aria-label": video ? "Video call" : "Voice call",
      onclick: () => void this.calls.start(c.id, c.title, video)
        .catch((e) => say(errText(e))) }, video ? "📹" : "📞");
  }

  private renderMessages(initial = false): void {
    const k = this.state.openChat;
    if (!k || !this.list) return;
    const ms = this.state.history(k);
    const chat = this.state.chats.get(k);
    this.readOutbox = chat?.readOutboxMaxId ?? 0n;
    const items = ms.list.map((m) => ({ key: `${m.id}:${m.editDate}:${m.id <= this.readOutbox ? 1 : 0}`, m }));
    this.list.set(items);
    if (initial) this.list.scrollToBottom();
  }
  private readOutbox = 0n;

  private renderMsg(m: Message): HTMLElement {
    const me = this.state.me;
    const chat = this.state.chats.get(key(m.chatId));
    if (m.kind === MessageKind.CALL) {
      return h("div", { class: "msg service call-entry", "data-id": String(m.id) },
        h("div", { class: "bubble" }, callText(m, me?.id)));
    }
    if (m.kind === MessageKind.SERVICE) {
      return h("div", { class: "msg service", "data-id": String(m.id) },
        h("div", { class: "bubble" }, serviceText(m)));
    }
    const mine = !!me && m.fromUser === me.id;
    const reply = m.replyTo ? this.state.history(key(m.chatId)).get(m.replyTo) : undefined;
    const marks = mine ? (m.id <= (chat?.readOutboxMaxId ?? 0n) ? "✓✓" : "✓") : "";
    return h("div", { class: `msg${mine ? " mine" : ""}`, "data-id": String(m.id) },
      h("div", { class: "bubble" },
        chat?.kind === ChatKind.GROUP && !mine ? h("div", { class: "from" }, m.fromUsername) : null,
        m.replyTo ? h("div", { class: "reply" }, reply ? `${reply.fromUsername}: ${reply.text}` : "Reply to a message") : null,
        h("div", { class: "text" }, m.text),
        h("div", { class: "meta" },
          m.ttl ? h("span", { class: "ttl" }, `self-destructs: ${timerName(m.ttl)}`) : null,
          m.editDate ? h("span", {}, "edited") : null,
          h("time", { title: fullTime(m.date) }, shortTime(m.date)),
          marks ? h("span", { class: "read", "aria-label": marks === "✓✓" ? "read" : "sent" }, marks) : null,
          h("button", { class: "more", "aria-label": "Message actions", "aria-haspopup": "dialog",
            onclick: () => this.msgActions(m, mine) }, "⋯"))));
  }

  private autosize(): void {
    this.composer.style.height = "auto";
    this.composer.style.height = `${Math.min(this.composer.scrollHeight, 160)}px`;
  }

  private setBanner(text: string | null): void {
    clear(this.banner);
    this.banner.classList.toggle("hidden", text === null);
    if (text !== null) {
      append(this.banner, h("span", {}, text),
        h("button", { type: "button", class: "icon", "aria-label": "Cancel", onclick: () => this.cancelCompose() }, "✕"));
    }
  }

  private cancelCompose(): void {
    if (this.editing) this.composer.value = "";
    this.replyTo = this.editing = null;
    this.setBanner(null);
  }

  private editLast(): void {
    const ms = this.state.history(this.state.openChat ?? "");
    const me = this.state.me;
    const last = [...ms.list].reverse().find((m) => me && m.fromUser === me.id && m.kind === MessageKind.TEXT);
    if (last) this.startEdit(last);
  }

  private startEdit(m: Message): void {
    this.editing = m;
    this.replyTo = null;
    this.composer.value = m.text;
    this.setBanner(`Editing: ${m.text}`);
    this.composer.focus();
  }

  private async submit(): Promise<void> {
    const text = this.composer.value;
    const k = this.state.openChat;
    if (!k || !text.trim()) return;
    const chatId = BigInt(k);
    const editing = this.editing, replyTo = this.replyTo;
    this.composer.value = "";
    this.autosize();
    this.cancelCompose();
    try {
      if (editing) {
        const r = await this.client.call({ case: "editMessage", value: { chatId, id: editing.id, text } });
        this.state.applyResult(r);
      } else {
        const r = await this.client.call({ case: "sendMessage", value: {
          chatId, text, replyTo: replyTo?.id ?? 0n, ttl: Number(this.ttl.value), randomId: randomId(),
        } });
        this.state.applyResult(r);
        this.list?.scrollToBottom();
      }
    } catch (e) {
      say(`Not sent: ${errText(e)}`);
      if (!this.composer.value) this.composer.value = text;
    }
  }

  private markRead(): void {
    const k = this.state.openChat;
    if (!k || document.visibilityState !== "visible" || !this.client.isReady) return;
    const c = this.state.chats.get(k);
    if (!c || (c.unread === 0 && c.readInboxMaxId >= c.topMessageId)) return;
    const maxId = c.topMessageId;
    c.unread = 0;
    c.readInboxMaxId = maxId;
    this.renderChats();
    this.client.call({ case: "readHistory", value: { chatId: c.id, maxId } })
      .then((r) => this.state.applyResult(r)).catch(() => {});
  }

  // ---- dialogs -------------------------------------------------------------------------

  private dialog(title: string, ...body: (Node | string | null)[]): HTMLDialogElement {
    const id = `dlg-${Math.random().toString(36).slice(2)}`;
    const d = h("dialog", { "aria-labelledby": id },
      h("h2", { id }, title), ...body,
      h("div", { class: "row" }, h("button", { type: "button", onclick: () => d.close() }, "Close")));
    d.addEventListener("close", () => d.remove());
    document.body.appendChild(d);
    d.showModal();
    return d;
  }

  private async run(err: HTMLElement, f: () => Promise<void>): Promise<void> {
    err.textContent = "";
    try { await f(); } catch (e) { err.textContent = errText(e); }
  }

  private newPrivate(): void {
    const input = h("input", { "aria-label": "Username", placeholder: "username", autocapitalize: "none" });
    const err = h("p", { class: "error", role: "alert" });
    const form = h("form", {}, h("div", { class: "row" }, input,
      h("button", { type: "submit", class: "primary" }, "Start chat")), err);
    const d = this.dialog("New private chat", form);
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      void this.run(err, async () => {
        const r = await this.client.call({ case: "openPrivateChat",
          value: { username: input.value.trim().replace(/^@/, "").toLowerCase() } });
        if (r.case === "chatResult" && r.value.chat) {
          this.state.applyResult(r);
          d.close();
          this.open(key(r.value.chat.id));
        } else if (r.case === "chat") {
          this.state.putChat(r.value);
          d.close();
          this.open(key(r.value.id));
        }
      });
    });
    input.focus();
  }

  private newGroup(): void {
    const title = h("input", { "aria-label": "Group title", placeholder: "Title", maxlength: 128 });
    const members = h("input", { "aria-label": "Members (usernames, separated by spaces)", placeholder: "alice bobby" });
    const err = h("p", { class: "error", role: "alert" });
    const form = h("form", {}, title, members,
      h("button", { type: "submit", class: "primary" }, "Create group"), err);
    const d = this.dialog("New group", form);
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      void this.run(err, async () => {
        const usernames = members.value.split(/[\s,]+/).map((u) => u.replace(/^@/, "").toLowerCase()).filter(Boolean);
        const r = await this.client.call({ case: "createGroup", value: { title: title.value.trim(), usernames } });
        if (r.case === "chatResult" && r.value.chat) {
          this.state.applyResult(r);
          d.close();
          this.open(key(r.value.chat.id));
        }
      });
    });
    title.focus();
  }

  private msgActions(m: Message, mine: boolean): void {
    const chatId = m.chatId;
    const err = h("p", { class: "error", role: "alert" });
    const del = (forEveryone: boolean) => void this.run(err, async () => {
      const r = await this.client.call({ case: "deleteMessages", value: { chatId, ids: [m.id], forEveryone } });
      this.state.applyResult(r, chatId);
      d.close();
    });
    const d = this.dialog("Message",
      h("p", { class: "text" }, m.text.length > 200 ? m.text.slice(0, 200) + "…" : m.text),
      h("div", { class: "menu" },
        h("button", { onclick: () => { d.close(); this.replyTo = m; this.editing = null;
          this.setBanner(`Reply to ${m.fromUsername}: ${m.text}`); this.composer.focus(); } }, "Reply"),
        mine ? h("button", { onclick: () => { d.close(); this.startEdit(m); } }, "Edit") : null,
        h("button", { onclick: () => del(false) }, "Delete for me"),
        mine ? h("button", { class: "danger", onclick: () => del(true) }, "Delete for everyone") : null),
      err);
  }

  private async chatSettings(c: Chat): Promise<void> {
    const err = h("p", { class: "error", role: "alert" });
    const timer = h("select", { "aria-label": "Auto-delete timer" },
      ...TIMERS.map(([n, v]) => h("option", { value: v, selected: v === c.autoDelete }, n)));
    timer.addEventListener("change", () => void this.run(err, async () => {
      const r = await this.client.call({ case: "setAutoDelete", value: { chatId: c.id, seconds: Number(timer.value) } });
      this.state.applyResult(r);
    }));
    const parts: (Node | null)[] = [h("label", { class: "row" }, "Auto-delete new messages after ", timer)];
    if (c.kind === ChatKind.PRIVATE) {
      const relay = h("input", { type: "checkbox" });
      relay.addEventListener("change", () => void this.run(err, async () => {
        relay.checked = await this.calls.setAlwaysRelay(relay.checked);
      }));
      void this.calls.alwaysRelay().then((on) => { relay.checked = on; }).catch(() => {});
      parts.push(h("label", { class: "row" }, relay,
        "Always relay calls (hides your IP address from the other side; all your devices)"));
    }
    if (c.kind === ChatKind.GROUP) {
      const name = h("input", { "aria-label": "Group title", value: c.title, maxlength: 128 });
      const add = h("input", { "aria-label": "Add member by username", placeholder: "username" });
      const members = h("ul", { "aria-label": "Members" });
      const canAdmin = c.myRole === Role.ADMIN || c.myRole === Role.CREATOR;
      const load = async () => {
        const r = await this.client.call({ case: "getMembers", value: { chatId: c.id } });
        if (r.case !== "members") return;
        clear(members);
        for (const mem of r.value.members) {
          const u = mem.user!;
          append(members, h("li", {}, h("span", {}, "@" + u.username + (mem.role === Role.CREATOR ? " (creator)"
            : mem.role === Role.ADMIN ? " (admin)" : "")),
          canAdmin && u.id !== this.state.me?.id ? h("button", { class: "danger", "aria-label": `Remove ${u.username}`,
            onclick: () => void this.run(err, async () => {
              const rr = await this.client.call({ case: "removeMembers", value: { chatId: c.id, userIds: [u.id] } });
              this.state.applyResult(rr);
              await load();
            }) }, "Remove") : null));
        }
      };
      parts.push(
        h("form", { class: "row", onsubmit: (e: Event) => { e.preventDefault(); void this.run(err, async () => {
          const r = await this.client.call({ case: "renameChat", value: { chatId: c.id, title: name.value.trim() } });
          this.state.applyResult(r);
        }); } }, name, h("button", { type: "submit" }, "Rename")),
        h("h3", {}, "Members"), members,
        h("form", { class: "row", onsubmit: (e: Event) => { e.preventDefault(); void this.run(err, async () => {
          const r = await this.client.call({ case: "addMembers", value: { chatId: c.id,
            usernames: add.value.split(/[\s,]+/).map((s) => s.replace(/^@/, "").toLowerCase()).filter(Boolean) } });
          this.state.applyResult(r);
          add.value = "";
          await load();
        }); } }, add, h("button", { type: "submit" }, "Add")),
        h("button", { class: "danger", onclick: () => void this.run(err, async () => {
          const r = await this.client.call({ case: "leaveChat", value: { chatId: c.id } });
          this.state.applyResult(r);      // chat_removed: gone from the list
          this.state.chats.delete(key(c.id));
          this.state.openChat = null;
          d.close();
          this.renderChats();
          this.renderChatPane();
        }) }, "Leave group"));
      void load().catch((e) => { err.textContent = errText(e); });
    }
    const d = this.dialog(`Settings: ${this.state.chatTitle(c)}`, h("div", { class: "col" }, ...parts, err));
  }

  private async sessions(): Promise<void> {
    const list = h("ul", { "aria-label": "Sessions" });
    const err = h("p", { class: "error", role: "alert" });
    this.sessionsList = list;
    this.sessionsErr = err;
    this.sessionsDialog = this.dialog("Sessions", list,
      h("button", { class: "danger", onclick: () => void this.run(err, async () => {
        this.state.applyResult(await this.client.call({ case: "terminateSession", value: { others: true } }));
        await this.fillSessions();
      }) }, "Terminate all other sessions"), err);
    await this.fillSessions();
  }
  private sessionsList: HTMLElement | null = null;
  private sessionsErr: HTMLElement | null = null;

  private async fillSessions(): Promise<void> {
    const list = this.sessionsList!, err = this.sessionsErr!;
    await this.run(err, async () => {
      const r = await this.client.call({ case: "listSessions", value: {} });
      if (r.case !== "sessions") return;
      clear(list);
      for (const s of r.value.sessions) {
        append(list, h("li", {},
          h("span", {}, `${s.device}${s.current ? " (this browser)" : ""} — last active ${fullTime(s.lastActive)}`),
          s.current ? null : h("button", { class: "danger", "aria-label": `Terminate ${s.device}`,
            onclick: () => void this.run(err, async () => {
              this.state.applyResult(await this.client.call({ case: "terminateSession", value: { sessionId: s.id } }));
              await this.fillSessions();
            }) }, "Terminate")));
      }
    });
  }
}
