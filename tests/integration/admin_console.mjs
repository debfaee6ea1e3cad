// tests/integration/admin_console.mjs — the admin plane's live console
// (docs/admin.md, "Console") in Debian's chromium driven by playwright-core
// (tests/e2e's node_modules); admin_console.sh runs it.
//
//   node admin_console.mjs --url http://ADMIN/ --go FILE --gone NAME
//        --screenshot FILE.png [--chromium /usr/bin/chromium] [--members N]
//        [--go-timeout S] [--max-seconds S]
//
// Steps: load the console; wait until it shows a view (body data-view) with
// N members alive (rows tr[data-state=alive]), the segment legend naming
// each of them and at least 2 points in the ops/s chart (the node's
// history); print "READY view=<id>" and wait (bounded) for FILE: the
// shell kills node NAME meanwhile. Then, without reloading, wait until the
// page shows a newer view in which NAME is not alive and N-1 members are;
// save a screenshot. Output: one line per step, then "E2E PASS ..." and
// exit 0, or "E2E FAIL <why>" and exit 1 (2: bad usage). Every wait is
// bounded, and the whole run by --max-seconds.
import { chromium } from '../e2e/node_modules/playwright-core/index.mjs';
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

function parseArgs(argv) {
  const a = { chromium: '/usr/bin/chromium', members: 3, goTimeout: 120, maxSeconds: 200 };
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i], v = argv[i + 1];
    if (v === undefined) throw new Error(`${k} needs a value`);
    if (k === '--url') a.url = v;
    else if (k === '--go') a.go = v;
    else if (k === '--gone') a.gone = v;
    else if (k === '--screenshot') a.screenshot = v;
    else if (k === '--chromium') a.chromium = v;
    else if (k === '--members') a.members = Number(v);
    else if (k === '--go-timeout') a.goTimeout = Number(v);
    else if (k === '--max-seconds') a.maxSeconds = Number(v);
    else throw new Error(`unknown option ${k}`);
  }
  if (!a.url || !a.go || !a.gone || !a.screenshot) throw new Error('--url, --go, --gone and --screenshot are needed');
  if (!(a.members >= 2)) throw new Error('--members must be >= 2');
  return a;
}

// What the page shows now.
function shown(page) {
  return page.evaluate(() => ({
    view: document.body.dataset.view || '',
    rows: [...document.querySelectorAll('#members tr')].map((r) => [r.dataset.member, r.dataset.state]),
    legend: document.getElementById('legend').textContent,
    opsPoints: Number(document.getElementById('ops').dataset.points || 0),
    health: document.getElementById('health').textContent,
  }));
}

async function run(a) {
  const browser = await chromium.launch({
    executablePath: a.chromium,
    headless: true,
    args: process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : [],
    timeout: 60000,
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    const r = await page.goto(a.url, { timeout: 30000 });
    if (!r || r.status() !== 200) { console.log(`E2E FAIL console answered ${r ? r.status() : 'nothing'}`); return 1; }
    let s, deadline = Date.now() + 30000;
    for (;;) {
      s = await shown(page);
      const alive = s.rows.filter((x) => x[1] === 'alive').map((x) => x[0]);
      if (s.view && alive.length === a.members && alive.every((n) => s.legend.includes(n)) && s.opsPoints >= 2) break;
      if (Date.now() > deadline) { console.log(`E2E FAIL no view of ${a.members} alive members: ${JSON.stringify(s)}`); return 1; }
      await sleep(200);
    }
    const first = s.view;
    console.log(`READY view=${first} members=${s.rows.map((x) => x.join(':')).join(',')} legend=${s.legend.trim()} ops_points=${s.opsPoints}`);
    deadline = Date.now() + a.goTimeout * 1000;
    while (!existsSync(a.go)) {
      if (Date.now() > deadline) { console.log('E2E FAIL the shell did not say go'); return 1; }
      await sleep(100);
    }
    deadline = Date.now() + 30000;
    for (;;) {
      s = await shown(page);
      const alive = s.rows.filter((x) => x[1] === 'alive').map((x) => x[0]);
      if (Number(s.view) > Number(first) && !alive.includes(a.gone) && alive.length === a.members - 1) break;
      if (Date.now() > deadline) { console.log(`E2E FAIL the page did not show the new view: ${JSON.stringify(s)}`); return 1; }
      await sleep(200);
    }
    console.log(`SEEN view=${s.view} members=${s.rows.map((x) => x.join(':')).join(',')} health=${s.health}`);
    await page.screenshot({ path: a.screenshot, fullPage: true, timeout: 15000 });
    if (errors.length) { console.log(`E2E FAIL script errors on the page: ${errors.join('; ')}`); return 1; }
    console.log(`E2E PASS view ${first} -> ${s.view}, screenshot ${a.screenshot}`);
    return 0;
  } finally {
    await browser.close();
  }
}

let args;
try {
  args = parseArgs(process.argv.slice(2));
} catch (e) {
  console.log(`usage: ${e.message}`);
  process.exit(2);
}
setTimeout(() => {
  console.log(`E2E FAIL not done within ${args.maxSeconds} s`);
  process.exit(1);
}, args.maxSeconds * 1000).unref();
try {
  process.exitCode = await run(args);
} catch (e) {
  console.log(`E2E FAIL ${e.message}`);
  process.exitCode = 1;
}
