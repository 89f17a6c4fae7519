// layout.test.mjs: the web client at desktop, tablet and phone sizes: screenshots saved to
// web/test-output/, nothing overflows horizontally, the main controls are visible, every
// control has an accessible name, and a long history scrolls with a bounded DOM.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import {
  Server, cli, launch, person, register, startPrivate, openChat, send, messages, shotPath, seed,
  sleep,
} from "./harness.mjs";

let server, browser;
const PW = "layout password";
const tag = `${process.pid % 10000}`;

before(async () => {
  server = await new Server().start();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  try { await server?.stop(); } finally { server?.cleanup(); }
});

// Elements wider than the viewport, or pushing the page sideways.
async function overflow(page) {
  return page.evaluate(() => {
    const w = document.documentElement.clientWidth;
    const bad = [];
    if (document.documentElement.scrollWidth > w + 1) bad.push(`page ${document.documentElement.scrollWidth}>${w}`);
    for (const el of document.querySelectorAll("body *")) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 || getComputedStyle(el).visibility === "hidden") continue;
      if (r.right > w + 1 || r.left < -1) bad.push(`${el.tagName}.${el.className} ${Math.round(r.left)}..${Math.round(r.right)}`);
    }
    return bad;
  });
}

// Buttons, inputs, selects, textareas and links without an accessible name.
async function unnamed(page) {
  return page.evaluate(() => {
    const out = [];
    for (const el of document.querySelectorAll("button, input, select, textarea, a[href]")) {
      const label = el.getAttribute("aria-label") || el.getAttribute("aria-labelledby") ||
        (el.labels && el.labels.length ? el.labels[0].textContent : "") ||
        (el.tagName === "BUTTON" ? el.textContent.trim() : "") || el.getAttribute("title");
      if (!label || !label.trim()) out.push(el.outerHTML.slice(0, 80));
    }
    return out;
  });
}

async function visible(page, locators) {
  for (const [name, loc] of locators) {
    assert.ok(await loc.isVisible(), `${name} is visible`);
    const box = await loc.boundingBox();
    const vp = page.viewportSize();
    assert.ok(box && box.x >= 0 && box.x + box.width <= vp.width + 1 && box.y >= 0 &&
      box.y + box.height <= vp.height + 1, `${name} is inside the viewport: ${JSON.stringify(box)}`);
  }
}

const SIZES = [
  { name: "desktop", width: 1280, height: 800, split: true },
  { name: "tablet", width: 820, height: 1180, split: true },
  { name: "tablet-landscape", width: 1180, height: 820, split: true },
  { name: "phone", width: 390, height: 844, split: false },
];

test("layouts at desktop, tablet and phone sizes", async () => {
  const a = `lay${tag}a`, b = `lay${tag}b`;
  await cli(server, b, ["register", b], PW);
  for (const size of SIZES) {
    const P = await person(browser, server, { width: size.width, height: size.height });
    const page = P.page;
    // The login screen.
    await page.getByLabel("Username").waitFor();
    assert.deepEqual(await overflow(page), [], `login overflow at ${size.name}`);
    assert.deepEqual(await unnamed(page), []);
    await page.screenshot({ path: shotPath(`login-${size.name}.png`) });
    if (size === SIZES[0]) {
      await register(page, a, PW);
      await startPrivate(page, b);
      await send(page, "A long line that must wrap rather than push the layout sideways: " +
        "x".repeat(300));
      await send(page, "short one");
      await cli(server, b, ["send", "@" + a, "hi from the terminal\nwith a second line"]);
      await messages(page).filter({ hasText: "second line" }).waitFor();
    } else {
      await page.getByLabel("Username").fill(a);
      await page.getByLabel("Password").fill(PW);
      await page.getByRole("button", { name: "Log in" }).click();
      await page.locator("#app[data-ready='1']").waitFor();
    }
    const nav = page.getByRole("navigation", { name: "Chat list" });
    // The chat list.
    await nav.getByRole("button", { name: new RegExp(b) }).waitFor();
    await visible(page, [["search", page.getByRole("searchbox", { name: "Search chats" })],
      ["new chat", page.getByRole("button", { name: "New private chat" })],
      ["log out", page.getByRole("button", { name: "Log out" })]]);
    assert.deepEqual(await overflow(page), [], `list overflow at ${size.name}`);
    // The chat.
    await openChat(page, b);
    await messages(page).filter({ hasText: "second line" }).waitFor();
    await sleep(200);
    await visible(page, [["message box", page.getByRole("textbox", { name: "Message" })],
      ["send", page.getByRole("button", { name: "Send" })],
      ["settings", page.getByRole("button", { name: "Chat settings" })]]);
    assert.equal(await nav.isVisible(), size.split, `list beside the chat at ${size.name}`);
    assert.deepEqual(await overflow(page), [], `chat overflow at ${size.name}`);
    assert.deepEqual(await unnamed(page), []);
    await page.screenshot({ path: shotPath(`chat-${size.name}.png`) });
    if (!size.split) {
      await page.getByRole("button", { name: "Back to chats" }).click();
      await nav.waitFor();
    }
    for (const scheme of ["dark"]) {
      await page.emulateMedia({ colorScheme: scheme });
      const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      assert.notEqual(bg, "rgb(255, 255, 255)", "dark theme follows the system");
      await page.screenshot({ path: shotPath(`${scheme}-${size.name}.png`) });
      await page.emulateMedia({ colorScheme: "light" });
    }
    assert.deepEqual(page.errors, []);
    await P.ctx.close();
  }
});

test("keyboard only: log in, open a chat, send", async () => {
  const a = `kbd${tag}a`, b = `kbd${tag}b`;
  await cli(server, a, ["register", a], PW);
  await cli(server, b, ["register", b], PW);
  await cli(server, b, ["send", "@" + a, "ping"]);
  const P = await person(browser, server);
  const page = P.page;
  await page.getByLabel("Username").waitFor();
  await page.keyboard.type(a);          // the username field has focus
  await page.keyboard.press("Tab");
  await page.keyboard.type(PW);
  await page.keyboard.press("Enter");   // submits "Log in"
  await page.locator("#app[data-ready='1']").waitFor();
  const chat = page.getByRole("navigation", { name: "Chat list" }).getByRole("button", { name: new RegExp(b) });
  await chat.waitFor();
  await chat.focus();
  await page.keyboard.press("Enter");
  await page.getByRole("textbox", { name: "Message" }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute("aria-label")), "Message");
  await page.keyboard.type("pong");
  await page.keyboard.press("Enter");
  await messages(page).filter({ hasText: "pong" }).waitFor();
  // Escape closes a dialog.
  await page.getByRole("button", { name: "Sessions" }).focus();
  await page.keyboard.press("Enter");
  await page.getByRole("dialog").waitFor();
  await page.keyboard.press("Escape");
  await page.getByRole("dialog").waitFor({ state: "detached" });
  await P.ctx.close();
});

test("10,000 messages: scroll back through the whole history with a bounded DOM", async () => {
  const a = `big${tag}a`, b = `big${tag}b`;
  await cli(server, a, ["register", a], PW);
  await cli(server, b, ["register", b], PW);
  await seed(server, b, PW, a, 10000);
  const P = await person(browser, server);
  const page = P.page;
  await page.getByLabel("Username").fill(a);
  await page.getByLabel("Password").fill(PW);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.locator("#app[data-ready='1']").waitFor();
  await openChat(page, b);
  await messages(page).filter({ hasText: "m10000" }).waitFor();
  const log = page.getByRole("log", { name: "Messages" });
  let maxNodes = 0;
  const seen = new Set();
  const t0 = Date.now();
  const deadline = Date.now() + 150000;
  while (Date.now() < deadline) {
    const state = await log.evaluate(async (el) => {
      // One screen per step: the rendered window (screen + overscan on both sides) always
      // overlaps the last one, so every row is in the DOM at some step. The list renders in
      // an animation frame after each scroll event (msglist.ts), so the rows are read only
      // after two frames: on a loaded machine, reading at once saw the step before's window,
      // and two quick steps could skip a screen that was never rendered.
      el.scrollTop = Math.max(0, el.scrollTop - el.clientHeight);
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      const ids = [...el.querySelectorAll(".msg .text")].map((n) => n.textContent);
      return { top: el.scrollTop, ids, nodes: el.querySelectorAll(".msg").length };
    });
    for (const id of state.ids) seen.add(id);
    maxNodes = Math.max(maxNodes, state.nodes);
    if (seen.has("m00001")) break;
    await sleep(state.top < 2000 ? 40 : 1);
  }
  const took = Date.now() - t0;
  assert.ok(seen.has("m00001"), `reached the first message (saw ${seen.size})`);
  assert.ok(maxNodes < 300, `at most a window of messages in the DOM (max ${maxNodes})`);
  // Every message passed the viewport on the way up: no gaps, no duplicates.
  const ids = [...seen].sort();
  assert.equal(ids.length, 10000);
  assert.equal(ids[0], "m00001");
  assert.equal(ids[9999], "m10000");
  console.log(`# scrolled 10,000 messages to the top in ${took} ms, at most ${maxNodes} message nodes`);
  await P.ctx.close();
});
