// Drives gcorr's HTML report in headless Chromium (Debian's, through playwright-core) the way a
// user does, and prints what the page shows, for tests/ux/report.rs.
//
// Reads one plan as JSON on stdin:
//   { "chromium": "/usr/bin/chromium", "args": [FLAG, ...], "width": 1400, "height": 780,
//     "steps": [STEP, ...] }
// and runs its steps in order in one browser:
//   { "goto": URL }                  a new page at URL (fragment included)
//   { "type": SELECTOR, "text": T }  clicks into the field, types T key by key, then Enter
//   { "select": SELECTOR, "value": V }  picks an option
//   { "click": ID }                  clicks the overview row of conversation ID
//   { "hash": "#open=..." }          edits the fragment of the address, as in the address bar
//   { "look": true, "dom": false }   records what is rendered now (see `look` below)
//   { "png": PATH, "x": X }          records the colours of a PNG file (a screenshot): how many
//                                    pixels of each, and the colour of every pixel at column X
// Prints {"looks": [...]} on stdout, one entry per `look` and `png` step. Any failure exits 1
// with the reason on stderr.

import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const plan = JSON.parse(readFileSync(0, 'utf8'));
const browser = await chromium.launch({
  executablePath: plan.chromium,
  args: plan.args, // Playwright adds --headless and a new empty --user-data-dir
  timeout: 60_000,
});
const looks = [];
let page = null;
let errors = []; // uncaught script errors of the current page
try {
  for (const step of plan.steps) {
    if ('goto' in step) {
      if (page) await page.close();
      page = await browser.newPage({ viewport: { width: plan.width, height: plan.height } });
      page.setDefaultTimeout(15_000);
      errors = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(step.goto, { waitUntil: 'load' });
      await frames(page);
    } else if ('type' in step) {
      await page.locator(step.type).click();
      await page.locator(step.type).pressSequentially(step.text);
      // The page filters as one types, after a pause; Enter filters at once. A key press
      // returns once the page has handled it.
      await page.locator(step.type).press('Enter');
      await frames(page);
    } else if ('select' in step) {
      await page.locator(step.select).selectOption(step.value);
      await frames(page);
    } else if ('click' in step) {
      const i = await page.evaluate((id) => [...document.querySelectorAll('[data-conversation]')]
        .findIndex((e) => e.dataset.conversation === id), step.click);
      if (i < 0) throw new Error(`no row for ${step.click}`);
      await page.locator('[data-conversation]').nth(i).click();
      await frames(page);
    } else if ('hash' in step) {
      // Resolves after the page's own hashchange handler (registered first) has run.
      await page.evaluate((h) => new Promise((done) => {
        addEventListener('hashchange', () => done(), { once: true });
        location.hash = h;
      }), step.hash);
      await frames(page);
    } else if ('look' in step) {
      const seen = await page.evaluate(look, Boolean(step.dom));
      seen.errors = errors;
      looks.push(seen);
    } else if ('png' in step) {
      looks.push(await pixels(step.png, step.x));
    } else {
      throw new Error(`unknown step ${JSON.stringify(step)}`);
    }
  }
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify({ looks }));

/** Lets the page finish what an event started: two rendered frames. */
async function frames(p) {
  await p.evaluate(() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done))));
}

/** What the page renders, in the page: boxes in viewport pixels, visibility as computed. */
function look(withDom) {
  const box = (e) => {
    const r = e.getBoundingClientRect();
    return { top: r.top, bottom: r.bottom, left: r.left, right: r.right, height: r.height };
  };
  // Rendered: laid out with a box and not hidden by style.
  const shown = (e) => e.checkVisibility({ visibilityProperty: true, opacityProperty: true })
    && e.getBoundingClientRect().height > 0;
  // What a click at the middle of the element's box would reach: the element itself, not
  // something drawn over it.
  const onTop = (e) => {
    const r = e.getBoundingClientRect();
    const x = r.left + r.width / 2, y = r.top + r.height / 2;
    if (y < 0 || y >= innerHeight || x < 0 || x >= innerWidth) return false;
    const hit = document.elementFromPoint(x, y);
    return Boolean(hit && e.contains(hit));
  };
  const text = (sel) => {
    const e = document.querySelector(sel);
    return e && shown(e) ? e.innerText : null;
  };
  const head = document.querySelector('.head');
  return {
    viewport: { width: innerWidth, height: innerHeight },
    window_scroll: scrollY,
    head: head ? { ...box(head), shown: shown(head) } : null,
    rows: [...document.querySelectorAll('[data-conversation]')].map((e) => ({
      id: e.dataset.conversation,
      shown: shown(e),
      on_top: shown(e) && onTop(e),
      expanded: e.getAttribute('aria-expanded') === 'true',
      focused: document.activeElement === e,
      ...box(e),
    })),
    timelines: [...document.querySelectorAll('[data-timeline]')].map((e) => ({
      id: e.dataset.timeline,
      shown: shown(e),
      ...box(e),
    })),
    details: [...document.querySelectorAll('.detail')].map((e) => ({
      shown: shown(e),
      text: shown(e) ? e.innerText : '',
      ...box(e),
    })),
    counter: text('#shown'),
    empty: text('#empty'),
    missing: text('#missing'),
    dom: withDom ? document.documentElement.outerHTML : null,
  };
}

/** A PNG's size and colours, read back through a canvas. */
async function pixels(path, x) {
  const p = await browser.newPage();
  try {
    const url = `data:image/png;base64,${readFileSync(path).toString('base64')}`;
    return await p.evaluate(async ([src, x]) => {
      const img = new Image();
      img.src = src;
      await img.decode();
      const c = document.createElement('canvas');
      c.width = img.width;
      c.height = img.height;
      const g = c.getContext('2d');
      g.drawImage(img, 0, 0);
      const { data } = g.getImageData(0, 0, c.width, c.height);
      const rgb = (i) => `${data[i]},${data[i + 1]},${data[i + 2]}`;
      const counts = new Map();
      for (let i = 0; i < data.length; i += 4) {
        const k = rgb(i);
        counts.set(k, (counts.get(k) || 0) + 1);
      }
      return {
        width: c.width,
        height: c.height,
        colours: counts.size,
        counts: Object.fromEntries(counts),
        column: Array.from({ length: c.height }, (_, y) => rgb((y * c.width + x) * 4)),
      };
    }, [url, Math.trunc(x ?? 0)]);
  } finally {
    await p.close();
  }
}
