// Load time of gcorr's HTML report in headless Chromium: the time from the start of navigation
// until the DOM is ready and every overview row is present, as a median over --runs loads (each
// in a new page of one browser, round-robin over the reports given).
//
//   node bench/html_bench.mjs [--runs N] [--rows N] [--json] REPORT.html...
//
// --rows is how many overview rows each report must show (default: read from the page's
// subtitle). Prints a line per report (size, median load time, the loads, the first frame
// drawn after that), and for two reports the ratios of the first to the second; with --json,
// one JSON object per report instead: {"file", "bytes", "rows", "ready_ms": [...],
// "median_ready_ms", "median_painted_ms"}.
// Uses playwright-core from tests/ux/browser/node_modules and /usr/bin/chromium (or
// $GCORR_CHROMIUM) with the flags of the browser tests.

import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from '../tests/ux/browser/node_modules/playwright-core/index.mjs';

const args = process.argv.slice(2);
let runs = 5;
let rows = null;
let json = false;
const files = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--runs') runs = Number(args[++i]);
  else if (args[i] === '--rows') rows = Number(args[++i]);
  else if (args[i] === '--json') json = true;
  else files.push(args[i]);
}
if (!files.length || !(runs > 0)) {
  console.error('usage: node bench/html_bench.mjs [--runs N] [--rows N] REPORT.html...');
  process.exit(2);
}

// Records, in the page, when #rows first holds `want` rows (directly or in blocks): a
// MutationObserver sees each insertion, whether the page appends rows one by one or at once.
const ROWS = '#rows [data-conversation]';
function watch([want, selector]) {
  const seen = () => {
    if (!window.__rowsAt && document.querySelectorAll(selector).length >= want) {
      window.__rowsAt = performance.now();
      return true;
    }
    return false;
  };
  new MutationObserver((_, obs) => { if (seen()) obs.disconnect(); })
    .observe(document, { childList: true, subtree: true });
}

const browser = await chromium.launch({
  executablePath: process.env.GCORR_CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  timeout: 60_000,
});

async function load(file, want) {
  const page = await browser.newPage({ viewport: { width: 1400, height: 780 } });
  page.setDefaultTimeout(120_000);
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.addInitScript(watch, [want, ROWS]);
  await page.goto(pathToFileURL(resolve(file)).href, { waitUntil: 'domcontentloaded' });
  await page.waitForFunction(() => window.__rowsAt != null, null, { polling: 50 });
  const t = await page.evaluate((selector) => new Promise((done) => {
    const nav = performance.getEntriesByType('navigation')[0];
    const ready = Math.max(nav.domContentLoadedEventEnd, window.__rowsAt);
    requestAnimationFrame(() => setTimeout(() => done({ ready, painted: performance.now(),
      rows: document.querySelectorAll(selector).length })));
  }), ROWS);
  await page.close();
  if (errors.length) throw new Error(`${file}: ${errors.join('; ')}`);
  if (t.rows !== want) throw new Error(`${file}: ${t.rows} rows, expected ${want}`);
  return t;
}

/** The number of conversations the page says it holds: "30,765 conversations". */
async function count(file) {
  const page = await browser.newPage();
  page.setDefaultTimeout(300_000);
  await page.goto(pathToFileURL(resolve(file)).href, { waitUntil: 'load' });
  const text = await page.locator('#subtitle').textContent();
  await page.close();
  return Number(text.replace(/[^0-9]/g, ''));
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

try {
  const want = [];
  for (const f of files) want.push(rows ?? (await count(f)));
  const results = files.map(() => ({ ready: [], painted: [] }));
  for (let r = 0; r < runs; r++) {
    for (const [i, f] of files.entries()) {
      const t = await load(f, want[i]);
      results[i].ready.push(Math.round(t.ready));
      results[i].painted.push(Math.round(t.painted));
    }
  }
  const out = files.map((f, i) => ({
    file: f, bytes: statSync(f).size, rows: want[i], ready_ms: results[i].ready,
    median_ready_ms: median(results[i].ready), median_painted_ms: median(results[i].painted),
  }));
  for (const r of out) {
    if (json) { console.log(JSON.stringify(r)); continue; }
    console.log(`${r.file}: ${r.rows.toLocaleString('en-US')} conversations, ${(r.bytes / 1e6).toFixed(1)} MB ` +
      `(${(r.bytes / r.rows / 1e3).toFixed(2)} KB each); ready in ${r.median_ready_ms} ms (median of ` +
      `${r.ready_ms.length}: ${r.ready_ms.join(', ')}); first frame at ${r.median_painted_ms} ms`);
  }
  if (!json && out.length === 2) {
    const [a, b] = out;
    console.log(`first/second: size ${(a.bytes / b.bytes).toFixed(2)}, ready ` +
      `${(a.median_ready_ms / b.median_ready_ms).toFixed(2)}, first frame ` +
      `${(a.median_painted_ms / b.median_painted_ms).toFixed(2)}`);
  }
} finally {
  await browser.close();
}
