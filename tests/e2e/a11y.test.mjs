// Accessible: every control has a name, the whole flow works from the keyboard, text contrast is readable.
import test from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { setup, waitForColumns, waitForSummary, shot, sandboxJson, tmpDir } from "./harness.mjs";
import * as fx from "./fixtures.mjs";

const dir = tmpDir("a11y");

async function tabTo(page, selector, max = 120) {
  for (let i = 0; i < max; i++) {
    if (await page.evaluate((s) => document.activeElement?.matches(s), selector)) return i;
    await page.keyboard.press("Tab");
  }
  throw new Error(`${selector} is not reachable with the Tab key`);
}

/** Controls without an accessible name (a simplified accname: aria-label, aria-labelledby, <label>, text, title). */
function unnamedControls(page) {
  return page.evaluate(() => {
    const visible = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length) || el.classList.contains("visually-hidden");
    const name = (el) => {
      if (el.getAttribute("aria-label")?.trim()) return el.getAttribute("aria-label");
      const lb = el.getAttribute("aria-labelledby");
      if (lb) return lb.split(/\s+/).map((id) => document.getElementById(id)?.textContent ?? "").join(" ").trim();
      if (el.labels?.length) return [...el.labels].map((l) => l.textContent).join(" ").trim();
      if (["BUTTON", "A", "SUMMARY"].includes(el.tagName)) return el.textContent.trim();
      return el.title?.trim() ?? "";
    };
    return [...document.querySelectorAll("input, select, textarea, button, a[href], summary, [tabindex]:not([tabindex='-1'])")]
      .filter((el) => !el.closest("[hidden]") && visible(el) && !name(el))
      .map((el) => el.outerHTML.slice(0, 120));
  });
}

/** Visible text whose contrast against its background is under WCAG AA (4.5:1; 3:1 for large text). */
function lowContrast(page) {
  return page.evaluate(() => {
    const parse = (c) => { const m = c.match(/rgba?\(([^)]+)\)/); if (!m) return null; const [r, g, b, a = 1] = m[1].split(",").map(Number); return { r, g, b, a }; };
    const lum = ({ r, g, b }) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; }; return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
    const bgOf = (el) => {
      for (let e = el; e; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor); if (c && c.a > 0.5) return c; }
      return { r: 255, g: 255, b: 255 };
    };
    const bad = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const seen = new Set();
    while (walker.nextNode()) {
      const t = walker.currentNode;
      const el = t.parentElement;
      if (!t.textContent.trim() || seen.has(el) || el.closest("[hidden], .visually-hidden, :disabled, option, canvas, .skip")) continue;
      seen.add(el);
      if (!el.getClientRects().length) continue;
      const cs = getComputedStyle(el);
      const fg = parse(cs.color), bg = bgOf(el);
      const [L1, L2] = [lum(fg), lum(bg)].sort((a, b) => b - a);
      const ratio = (L1 + 0.05) / (L2 + 0.05);
      const size = parseFloat(cs.fontSize), bold = Number(cs.fontWeight) >= 700;
      const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
      if (ratio < need) bad.push(`${ratio.toFixed(2)} < ${need}: "${t.textContent.trim().slice(0, 40)}" (${cs.color} on rgb(${bg.r},${bg.g},${bg.b}))`);
    }
    return bad;
  });
}

test("the whole flow works from the keyboard; controls are named; contrast passes WCAG AA", async (t) => {
  const env = await setup();
  t.after(() => env.close());
  const { page, sb } = env;
  const f = fx.messyPeople(dir);

  assert.deepEqual(await unnamedControls(page), []);
  assert.deepEqual(await lowContrast(page), []);

  // 1. connect: API radio with the arrow keys, credentials, Enter
  await tabTo(page, "input[name=api]:checked");
  await page.keyboard.press("ArrowDown");
  assert.equal(await page.evaluate(() => document.querySelector("input[name=api]:checked").value), "track");
  await tabTo(page, "#site-id");
  await page.keyboard.type("site_test");
  await tabTo(page, "#api-key");
  await page.keyboard.type("track_key_test");
  await page.keyboard.press("Enter");
  await page.locator("#step-file").waitFor({ state: "visible" });

  // 2. the file picker opens from the keyboard
  await tabTo(page, "#pick-file");
  const [chooser] = await Promise.all([page.waitForEvent("filechooser"), page.keyboard.press("Enter")]);
  await chooser.setFiles(f.file);
  await waitForColumns(page);

  // 3. change a mapping from the keyboard: "note" → Ignore (the last choice)
  await tabTo(page, 'select[data-col="note"]');
  await page.keyboard.press("End");
  await page.waitForFunction(() => document.querySelector('select[data-col="note"]').value === "ignore");
  assert.deepEqual(await unnamedControls(page), []);

  // 4. check
  await tabTo(page, "#dry-run");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => /^Checked /.test(document.getElementById("dry-text").textContent));
  // the issues table scrolls from the keyboard
  await tabTo(page, "#issues .vt-viewport");
  assert.deepEqual(await lowContrast(page), []);
  await shot(page, "30-keyboard-check");

  // 5. send, then download from the keyboard
  await tabTo(page, "#send");
  await page.keyboard.press("Enter");
  await waitForSummary(page);
  await tabTo(page, "#download");
  const [dl] = await Promise.all([page.waitForEvent("download"), page.keyboard.press("Enter")]);
  assert.ok(fs.readFileSync(await dl.path(), "utf8").includes("id_missing"));
  assert.deepEqual(await unnamedControls(page), []);
  assert.deepEqual(await lowContrast(page), []);

  const people = await sandboxJson(sb, "/__sandbox/people?api=track");
  assert.equal(people.length, f.valid.length);
  for (const p of people) assert.ok(!("note" in p.attributes), "the keyboard mapping change took effect");
  assert.deepEqual(page.errors, []);
});
