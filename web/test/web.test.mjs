// web.test.mjs: the web client against a real parleyd, real TLS and Debian's chromium.
// Run by `make test` (scripts/run-tests.sh) with node's own test runner.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import {
  Server, cli, launch, person, register, login, startPrivate, openChat, send, messages, shotPath,
  sleep,
} from "./harness.mjs";

let server, browser;
const PW = "correct horse battery";
let n = 0;
const uname = (p) => `${p}${process.pid % 10000}x${n++}`;

before(async () => {
  server = await new Server().start();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  try { await server?.stop(); } finally { server?.cleanup(); }
});

async function twoUsers() {
  const a = uname("ann"), b = uname("bob");
  const A = await person(browser, server), B = await person(browser, server);
  await register(A.page, a, PW);
  await register(B.page, b, PW);
  return { a, b, A, B };
}

test("two browsers chat; edit and delete-for-everyone appear live", async () => {
  const { a, b, A, B } = await twoUsers();
  await startPrivate(A.page, b);
  await send(A.page, "hello from ann");
  await openChat(B.page, a);
  await messages(B.page).filter({ hasText: "hello from ann" }).waitFor();
  await send(B.page, "line one");
  await messages(A.page).filter({ hasText: "line one" }).waitFor();

  // Shift+Enter makes a new line, Enter sends.
  const box = B.page.getByRole("textbox", { name: "Message" });
  await box.fill("first");
  await box.press("Shift+Enter");
  await box.type("second");
  await box.press("Enter");
  await messages(A.page).filter({ hasText: "second" }).waitFor();
  assert.equal(await messages(A.page).filter({ hasText: "second" }).innerText(), "first\nsecond");

  // Edit on A, seen live on B.
  const mine = A.page.locator(".msg.mine", { hasText: "hello from ann" });
  await mine.getByRole("button", { name: "Message actions" }).click();
  await A.page.getByRole("dialog").getByRole("button", { name: "Edit" }).click();
  const abox = A.page.getByRole("textbox", { name: "Message" });
  await abox.fill("hello, edited");
  await abox.press("Enter");
  await messages(B.page).filter({ hasText: "hello, edited" }).waitFor();
  await B.page.locator(".msg", { hasText: "hello, edited" }).getByText("edited", { exact: true }).waitFor();

  // Delete for everyone on A, gone live on B.
  await A.page.locator(".msg.mine", { hasText: "hello, edited" }).getByRole("button", { name: "Message actions" }).click();
  await A.page.getByRole("dialog").getByRole("button", { name: "Delete for everyone" }).click();
  await messages(B.page).filter({ hasText: "hello, edited" }).waitFor({ state: "detached" });
  await messages(A.page).filter({ hasText: "hello, edited" }).waitFor({ state: "detached" });

  // Read marker: B has read A's messages, so A's remaining own message... A sends, B reads.
  await send(A.page, "read me");
  await messages(B.page).filter({ hasText: "read me" }).waitFor();
  await A.page.locator(".msg.mine", { hasText: "read me" }).getByLabel("read").waitFor();

  assert.deepEqual(A.page.errors, []);
  assert.deepEqual(B.page.errors, []);
  await A.ctx.close();
  await B.ctx.close();
});

test("CLI and browser see each other's messages", async () => {
  const w = uname("web"), c = uname("cli");
  await cli(server, c, ["register", c], PW);
  const W = await person(browser, server);
  await register(W.page, w, PW);
  await cli(server, c, ["send", "@" + w, "from the terminal"]);
  await W.page.getByRole("navigation", { name: "Chat list" }).getByRole("button", { name: new RegExp(c) }).waitFor();
  // The chat list shows the unread count before the chat is opened.
  await W.page.getByRole("button", { name: new RegExp(`${c}, 1 unread`) }).waitFor();
  await openChat(W.page, c);
  await messages(W.page).filter({ hasText: "from the terminal" }).waitFor();
  await send(W.page, "from the browser");
  await messages(W.page).filter({ hasText: "from the browser" }).waitFor();
  let texts = [];
  for (let i = 0; i < 50; i++) {
    const h = await cli(server, c, ["history", "@" + w]);
    texts = h.map((m) => m.text);
    if (texts.includes("from the browser")) break;
    await sleep(100);
  }
  assert.ok(texts.includes("from the browser"), `CLI history: ${JSON.stringify(texts)}`);
  assert.deepEqual(W.page.errors, []);
  await W.ctx.close();
});

test("markup in messages is text and runs nothing", async () => {
  const { a, b, A, B } = await twoUsers();
  const attacks = [
    `<img src=x onerror="window.__pwned=1">`,
    `<script>window.__pwned=2</script>`,
    `<svg onload="window.__pwned=3"></svg>`,
    `"><iframe src="javascript:window.__pwned=4"></iframe>`,
    `<a href="javascript:window.__pwned=5">click</a> <b>bold</b>`,
  ];
  await startPrivate(A.page, b);
  for (const t of attacks) await send(A.page, t);
  await openChat(B.page, a);
  for (const t of attacks) {
    await messages(B.page).filter({ hasText: t }).first().waitFor();
  }
  await sleep(300);
  for (const P of [A.page, B.page]) {
    const texts = await messages(P).allInnerTexts();
    for (const t of attacks) assert.ok(texts.includes(t), `shown as text: ${t}`);
    assert.equal(await P.evaluate(() => window.__pwned), undefined);
    assert.equal(await P.locator(".messages img, .messages script, .messages svg, .messages iframe, .messages b").count(), 0);
  }
  await A.ctx.close();
  await B.ctx.close();
});

test("a server restart is caught up without duplicates or gaps", async () => {
  const { a, b, A, B } = await twoUsers();
  await startPrivate(A.page, b);
  for (let i = 1; i <= 3; i++) await send(A.page, `before ${i}`);
  await openChat(B.page, a);
  await messages(B.page).filter({ hasText: "before 3" }).waitFor();

  await server.stop();
  await B.page.getByRole("status").filter({ hasText: /reconnecting/i }).waitFor();
  await server.start();
  // While B is reconnecting, the other side writes (from the CLI, as the same account as A).
  await cli(server, "a-dev", ["login", a], PW);
  for (let i = 1; i <= 3; i++) await cli(server, "a-dev", ["send", "@" + b, `while away ${i}`]);
  await messages(B.page).filter({ hasText: "while away 3" }).waitFor({ timeout: 20000 });
  await messages(A.page).filter({ hasText: "while away 3" }).waitFor({ timeout: 20000 });
  await send(B.page, "after");
  await messages(A.page).filter({ hasText: "after" }).waitFor();
  await sleep(500);
  const want = ["before 1", "before 2", "before 3", "while away 1", "while away 2", "while away 3", "after"];
  assert.deepEqual(await messages(B.page).allInnerTexts(), want);
  assert.deepEqual(await messages(A.page).allInnerTexts(), want);
  await A.ctx.close();
  await B.ctx.close();
});
