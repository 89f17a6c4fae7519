// features.test.mjs: the rest of what a person can do in the web client, each against the
// real server: groups, sessions and logout, one account in two browsers and the CLI,
// replies, delete for me, timers, search.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import {
  Server, cli, launch, person, register, login, startPrivate, openChat, send, messages, sleep,
} from "./harness.mjs";

let server, browser;
const PW = "feature password";
const tag = `${process.pid % 10000}`;
let n = 0;
const uname = (p) => `${p}${tag}x${n++}`;

before(async () => {
  server = await new Server().start();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  try { await server?.stop(); } finally { server?.cleanup(); }
});

async function actions(page, text) {
  const exact = new RegExp(`^${text}$`);
  await page.locator(".msg").filter({ has: page.locator(".text", { hasText: exact }) })
    .getByRole("button", { name: "Message actions" }).click();
  return page.getByRole("dialog");
}

test("groups: create, add, remove, rename, leave", async () => {
  const a = uname("gra"), b = uname("grb"), c = uname("grc");
  await cli(server, b, ["register", b], PW);
  await cli(server, c, ["register", c], PW);
  const A = await person(browser, server);
  const page = A.page;
  await register(page, a, PW);
  await page.getByRole("button", { name: "New group" }).click();
  const d = page.getByRole("dialog");
  await d.getByLabel("Group title").fill("Weekend <b>plans</b>");
  await d.getByLabel(/Members/).fill(`${b}`);
  await d.getByRole("button", { name: "Create group" }).click();
  await page.getByRole("heading", { name: /Weekend <b>plans<\/b>/ }).waitFor();
  await send(page, "hello group");
  // b (CLI) sees the group and the message.
  let hist = [];
  for (let i = 0; i < 50 && !hist.some((m) => m.text === "hello group"); i++) {
    const chats = await cli(server, b, ["chats"]);
    const g = chats.find((x) => x.title === "Weekend <b>plans</b>");
    if (g) hist = await cli(server, b, ["history", String(g.chat)]);
    else await sleep(100);
  }
  assert.ok(hist.some((m) => m.text === "hello group"), JSON.stringify(hist));
  // Settings: add c, remove b, rename.
  await page.getByRole("button", { name: "Chat settings" }).click();
  const s = page.getByRole("dialog");
  await s.getByLabel("Add member by username").fill(c);
  await s.getByRole("button", { name: "Add", exact: true }).click();
  await s.getByRole("list", { name: "Members" }).getByText("@" + c).waitFor();
  await s.getByRole("button", { name: `Remove ${b}` }).click();
  await s.getByRole("list", { name: "Members" }).getByText("@" + b).waitFor({ state: "detached" });
  await s.getByLabel("Group title").fill("Weekend");
  await s.getByRole("button", { name: "Rename" }).click();
  await page.getByRole("heading", { name: /^Weekend/ }).filter({ hasNotText: "plans" }).waitFor();
  await s.getByRole("button", { name: "Close" }).click();
  await messages(page).locator("xpath=..").first().waitFor();
  await page.locator(".msg.service", { hasText: "renamed the group" }).waitFor();
  // c sees the group under its new name.
  let found = false;
  for (let i = 0; i < 50 && !found; i++) {
    found = (await cli(server, c, ["chats"])).some((x) => x.title === "Weekend");
    if (!found) await sleep(100);
  }
  assert.ok(found, "c is a member of the renamed group");
  // Leave.
  await page.getByRole("button", { name: "Chat settings" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Leave group" }).click();
  await page.getByText("Choose a chat, or start one.").waitFor();
  assert.equal(await page.getByRole("navigation", { name: "Chat list" }).getByRole("button", { name: /Weekend/ }).count(), 0);
  assert.deepEqual(page.errors, []);
  await A.ctx.close();
});

// The field number of the request a ClientFrame carries (proto/parley.proto), read from the
// protobuf bytes: the top-level length-delimited field numbered 10 or above.
const GET_HISTORY = 21, GET_DIFFERENCE = 35;
function requestField(buf) {
  let i = 0;
  const varint = () => {
    let x = 0, mul = 1, b;
    do { b = buf[i++]; x += (b & 0x7f) * mul; mul *= 128; } while (b & 0x80);
    return x;
  };
  while (i < buf.length) {
    const tag = varint(), field = Math.floor(tag / 8), type = tag & 7;
    if (type === 0) varint();
    else if (type === 2) { const n = varint(); if (field >= 10) return field; i += n; }
    else return -1;
  }
  return 0;
}

test("own group changes show from their results: no gap, no difference, no history reload", async () => {
  const a = uname("own"), b = uname("ownb"), c = uname("ownc");
  await cli(server, b, ["register", b], PW);
  await cli(server, c, ["register", c], PW);
  const A = await person(browser, server);
  const page = A.page;
  const sent = [];
  page.on("websocket", (ws) => ws.on("framesent", (f) => {
    if (typeof f.payload !== "string") sent.push(requestField(f.payload));
  }));
  await register(page, a, PW);
  await page.getByRole("button", { name: "New group" }).click();
  const d = page.getByRole("dialog");
  await d.getByLabel("Group title").fill("Own");
  await d.getByLabel(/Members/).fill(b);
  await d.getByRole("button", { name: "Create group" }).click();
  await page.getByRole("heading", { name: /^Own/ }).waitFor();
  await page.locator(".msg.service", { hasText: "created the group" }).waitFor();
  const from = sent.length;
  await page.getByRole("button", { name: "Chat settings" }).click();
  const s = page.getByRole("dialog");
  await s.getByLabel("Group title").fill("Own 2");
  await s.getByRole("button", { name: "Rename" }).click();
  await page.locator(".msg.service", { hasText: "renamed the group to “Own 2”" }).waitFor();
  await s.getByLabel("Add member by username").fill(c);
  await s.getByRole("button", { name: "Add", exact: true }).click();
  await s.getByRole("list", { name: "Members" }).getByText("@" + c).waitFor();
  await s.getByRole("button", { name: `Remove ${c}` }).click();
  await s.getByRole("list", { name: "Members" }).getByText("@" + c).waitFor({ state: "detached" });
  await s.getByLabel("Auto-delete timer").selectOption("3600");
  await s.getByRole("button", { name: "Close" }).click();
  for (const text of [`added ${c}`, `removed ${c}`, "set auto-delete to 1 hour"]) {
    await page.locator(".msg.service", { hasText: text }).waitFor();
  }
  // Someone else's message after all that is the next position: shown live, no gap.
  const g = (await cli(server, b, ["chats"])).find((x) => x.title === "Own 2");
  await cli(server, b, ["send", String(g.chat), "after the changes"]);
  await messages(page).filter({ hasText: "after the changes" }).waitFor();
  // Leaving is a change of our own too: then b's new private chat comes live, no gap.
  await page.getByRole("button", { name: "Chat settings" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Leave group" }).click();
  await page.getByText("Choose a chat, or start one.").waitFor();
  await cli(server, b, ["send", "@" + a, "after leaving"]);
  await page.getByRole("navigation", { name: "Chat list" }).getByRole("button", { name: new RegExp(b) }).waitFor();
  const after = sent.slice(from);
  assert.ok(!after.includes(GET_DIFFERENCE), `asked GetDifference after its own changes: ${after}`);
  assert.ok(!after.includes(GET_HISTORY), `reloaded history after its own changes: ${after}`);
  assert.deepEqual(page.errors, []);
  await A.ctx.close();
});

test("one account in two browsers and the CLI stays in sync; reply and delete for me", async () => {
  const a = uname("syn"), b = uname("synb");
  await cli(server, b, ["register", b], PW);
  const A1 = await person(browser, server);
  await register(A1.page, a, PW);
  const A2 = await person(browser, server);
  await login(A2.page, a, PW);
  await cli(server, "a-cli", ["login", a], PW);
  await startPrivate(A1.page, b);
  await send(A1.page, "from browser one");
  await cli(server, b, ["send", "@" + a, "from b"]);
  await cli(server, "a-cli", ["send", "@" + b, "from the CLI"]);
  await openChat(A2.page, b);
  for (const P of [A1.page, A2.page]) {
    await messages(P).filter({ hasText: "from the CLI" }).waitFor();
    assert.deepEqual(await messages(P).allInnerTexts(), ["from browser one", "from b", "from the CLI"]);
  }
  // Reply on A2, shown as a reply everywhere.
  const d = await actions(A2.page, "from b");
  await d.getByRole("button", { name: "Reply" }).click();
  await A2.page.getByText(/Reply to .*: from b/).waitFor();
  await send(A2.page, "a reply");
  await A1.page.locator(".msg", { hasText: "a reply" }).locator(".reply", { hasText: "from b" }).waitFor();
  const h = await cli(server, "a-cli", ["history", "@" + b]);
  const reply = h.find((m) => m.text === "a reply");
  assert.ok(reply && reply.reply_to, JSON.stringify(reply));
  // Delete for me on A1: gone on A2 too (same account), still there for b.
  const d2 = await actions(A1.page, "from browser one");
  await d2.getByRole("button", { name: "Delete for me" }).click();
  await messages(A2.page).filter({ hasText: "from browser one" }).waitFor({ state: "detached" });
  const hb = await cli(server, b, ["history", "@" + a]);
  assert.ok(hb.some((m) => m.text === "from browser one"), "b still has it");
  // Search the chat list.
  const search = A1.page.getByRole("searchbox", { name: "Search chats" });
  await search.fill(b.slice(0, 5));
  await A1.page.getByRole("navigation", { name: "Chat list" }).getByRole("button", { name: new RegExp(b) }).waitFor();
  await search.fill("zzzz-nothing");
  await A1.page.getByText("No chat matches.").waitFor();
  assert.deepEqual(A1.page.errors, []);
  assert.deepEqual(A2.page.errors, []);
  await A1.ctx.close();
  await A2.ctx.close();
});

test("sessions: listed, terminated from the browser; logout ends the session on the server", async () => {
  const a = uname("ses");
  const A1 = await person(browser, server);
  await register(A1.page, a, PW);
  const A2 = await person(browser, server);
  await login(A2.page, a, PW);
  await cli(server, "s-cli", ["login", a], PW);
  await A1.page.getByRole("button", { name: "Sessions" }).click();
  const d = A1.page.getByRole("dialog");
  await d.getByText("(this browser)").waitFor();
  const items = d.getByRole("list", { name: "Sessions" }).getByRole("listitem");
  assert.equal(await items.count(), 3);
  // End the other browser's session: it is sent to the login screen.
  await d.getByRole("listitem").filter({ hasNotText: "this browser" }).filter({ hasText: "Web:" })
    .getByRole("button", { name: /Terminate/ }).click();
  await A2.page.getByRole("button", { name: "Log in" }).waitFor();
  await A2.page.getByText(/session was ended/i).waitFor();
  await d.getByRole("list", { name: "Sessions" }).getByRole("listitem").nth(1).waitFor();
  await sleep(200);
  assert.equal(await items.count(), 2);
  await d.getByRole("button", { name: "Close" }).click();
  // Log out: the session is gone on the server (the CLI no longer sees it), the page shows
  // the login, and a reload does not get back in.
  const before = await cli(server, "s-cli", ["sessions"]);
  assert.equal(before.length, 2);
  await A1.page.getByRole("button", { name: "Log out" }).click();
  await A1.page.getByRole("button", { name: "Log in" }).waitFor();
  let after = before;
  for (let i = 0; i < 50 && after.length !== 1; i++) {
    after = await cli(server, "s-cli", ["sessions"]);
    if (after.length !== 1) await sleep(100);
  }
  assert.equal(after.length, 1, JSON.stringify(after));
  await A1.page.reload();
  await A1.page.getByRole("button", { name: "Log in" }).waitFor();
  // The page's script never sees the session cookie.
  assert.equal(await A1.page.evaluate(() => document.cookie), "");
  const cookies = await A1.ctx.cookies();
  assert.ok(!cookies.some((c) => c.name === "parley_session" && c.value), "cookie cleared");
  await A1.ctx.close();
  await A2.ctx.close();
});

test("a dead session cookie (never issued, or ended while the page was away) leads to the login with a reason", async () => {
  const a = uname("dead");
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true });
  await ctx.addCookies([{ name: "parley_session", value: "ab".repeat(32), url: server.url,
    httpOnly: true, secure: true, sameSite: "Strict" }]);
  const p1 = await ctx.newPage();
  await p1.goto(server.url + "/");
  await p1.getByText("Your session has ended. Log in again.").waitFor();
  p1.server = server;
  await register(p1, a, PW);
  await p1.close();
  // While no page is open, the browser's session is ended from the CLI.
  await cli(server, "dead-cli", ["login", a], PW);
  const web = (await cli(server, "dead-cli", ["sessions"])).find((x) => !x.current);
  await cli(server, "dead-cli", ["sessions", "terminate", String(web.id)]);
  const p2 = await ctx.newPage();
  await p2.goto(server.url + "/");
  await p2.getByText("Your session has ended. Log in again.").waitFor();
  await p2.getByRole("button", { name: "Log in" }).waitFor();
  await ctx.close();
});

test("the cookie is HttpOnly, Secure, SameSite=Strict and invisible to page script", async () => {
  const a = uname("coo");
  const A = await person(browser, server);
  await register(A.page, a, PW);
  assert.equal(await A.page.evaluate(() => document.cookie), "");
  const c = (await A.ctx.cookies()).find((x) => x.name === "parley_session");
  assert.ok(c, "cookie set");
  assert.equal(c.httpOnly, true);
  assert.equal(c.secure, true);
  assert.equal(c.sameSite, "Strict");
  // A reload logs straight back in from the cookie.
  await A.page.reload();
  await A.page.locator("#app[data-ready='1']").waitFor();
  await A.page.getByText("@" + a).waitFor();
  await A.ctx.close();
});

test("auto-delete timer and a message TTL; expiry shows live on the other side", async () => {
  const a = uname("ttl"), b = uname("ttlb");
  const A = await person(browser, server), B = await person(browser, server);
  await register(A.page, a, PW);
  await register(B.page, b, PW);
  await startPrivate(A.page, b);
  await A.page.getByRole("combobox", { name: "Self-destruct timer" }).selectOption("5");
  await send(A.page, "gone soon");
  await A.page.getByRole("combobox", { name: "Self-destruct timer" }).selectOption("0");
  await send(A.page, "stays");
  await openChat(B.page, a);
  await messages(B.page).filter({ hasText: "gone soon" }).waitFor();
  await B.page.locator(".msg", { hasText: "gone soon" }).getByText(/self-destructs/).waitFor();
  // The chat's auto-delete timer, set on A, is seen on B (header and service message).
  await A.page.getByRole("button", { name: "Chat settings" }).click();
  await A.page.getByRole("dialog").getByRole("combobox", { name: "Auto-delete timer" }).selectOption("3600");
  await B.page.getByRole("heading").filter({ hasText: "auto-delete 1 hour" }).waitFor();
  await A.page.getByRole("dialog").getByRole("button", { name: "Close" }).click();
  // TTL 5 s: the timer starts when B reads it; then it disappears on both sides.
  await messages(B.page).filter({ hasText: "gone soon" }).waitFor({ state: "detached", timeout: 20000 });
  await messages(A.page).filter({ hasText: "gone soon" }).waitFor({ state: "detached", timeout: 20000 });
  assert.ok((await messages(B.page).allInnerTexts()).includes("stays"));
  await A.ctx.close();
  await B.ctx.close();
});
