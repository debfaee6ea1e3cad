// tests/e2e/web_sessions.mjs — the web-sessions example in a real browser
// (issue 7, "An end-to-end test in headless Chromium"): Debian's chromium
// driven by playwright-core, through the load balancer the shell started
// (tests/integration/sessions_browser.sh runs it; see tests/e2e/README.md).
//
//   node web_sessions.mjs --url http://127.0.0.1:PORT/ --go FILE
//        --screenshot FILE.png [--chromium /usr/bin/chromium] [--reloads N]
//        [--go-timeout S] [--max-seconds S]
//
// Steps: load the page (a new session: #count is 1), fill the note form
// (input name=note), click #save and see the note in #note; reload N times
// (default 4): #count +1 each, the note still shown. Then print
//   READY-FOR-FAILURE session=<WEFTSESSION cookie> count=<#count>
// and wait (bounded by --go-timeout, default 120 s) for FILE to exist: the
// shell kills the session's primary weft node and an app instance
// meanwhile, then creates FILE. Then reload N more times: every answer 200,
// #count continues +1 from where it was (no reset), the note survives, the
// cookie is unchanged. Saves a screenshot of the last page to --screenshot.
//
// Output: one line per step; "E2E PASS ..." and exit 0, or "E2E FAIL
// <why>" and exit 1 (2: bad usage). Everything is bounded: every browser
// call has a timeout, and the whole run --max-seconds (default 240).
import { chromium } from 'playwright-core';
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

function parseArgs(argv) {
  const a = {
    chromium: '/usr/bin/chromium', reloads: 4, goTimeout: 120, maxSeconds: 240,
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i], v = argv[i + 1];
    if (v === undefined) throw new Error(`${k} needs a value`);
    i++;
    if (k === '--url') a.url = v;
    else if (k === '--go') a.go = v;
    else if (k === '--screenshot') a.screenshot = v;
    else if (k === '--chromium') a.chromium = v;
    else if (k === '--reloads') a.reloads = Number(v);
    else if (k === '--go-timeout') a.goTimeout = Number(v);
    else if (k === '--max-seconds') a.maxSeconds = Number(v);
    else throw new Error(`unknown option ${k}`);
  }
  if (!a.url || !a.go || !a.screenshot) throw new Error('--url, --go and --screenshot are needed');
  if (!(a.reloads >= 1)) throw new Error('--reloads must be >= 1');
  return a;
}

class Fail extends Error {}
function expect(cond, why) { if (!cond) throw new Fail(why); }

const NAV_MS = 45000;   // one page load, failover included
const STEP_MS = 10000;  // one element to appear, one click

// The page's #count as a number (NaN when it is not one).
async function countOf(page) {
  const t = await page.textContent('#count', { timeout: STEP_MS });
  return Number.parseInt((t ?? '').trim(), 10);
}
async function noteOf(page) {
  return ((await page.textContent('#note', { timeout: STEP_MS })) ?? '').trim();
}

// Loads the page again: the answer must be 200; returns {count, instance}.
async function reload(page) {
  const resp = await page.reload({ timeout: NAV_MS, waitUntil: 'load' });
  expect(resp !== null, 'reload: no response');
  expect(resp.status() === 200, `reload: HTTP ${resp.status()}`);
  return { count: await countOf(page), instance: resp.headers()['x-instance'] ?? '?' };
}

async function sessionCookie(context) {
  const c = (await context.cookies()).find((k) => k.name === 'WEFTSESSION');
  return c ? c.value : '';
}

async function waitForFile(path, seconds) {
  const deadline = Date.now() + seconds * 1000;
  while (!existsSync(path)) {
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
  return true;
}

async function run(a) {
  const browser = await chromium.launch({
    executablePath: a.chromium,
    headless: true,
    timeout: 60000,
    // root (CI) cannot use chromium's user-namespace sandbox
    args: process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : [],
  });
  const page = await (await browser.newContext()).newPage();
  const context = page.context();
  const seen = new Set();
  try {
    console.log(`browser ${browser.version()} (${a.chromium})`);
    const first = await page.goto(a.url, { timeout: NAV_MS, waitUntil: 'load' });
    expect(first && first.status() === 200, `first load: HTTP ${first && first.status()}`);
    seen.add(first.headers()['x-instance'] ?? '?');
    let count = await countOf(page);
    console.log(`load: #count ${count} from ${first.headers()['x-instance']}`);
    expect(count === 1, `a new session starts at 1, #count is ${count}`);
    const sid = await sessionCookie(context);
    expect(/^[0-9a-f]{32}$/.test(sid), `WEFTSESSION cookie '${sid}'`);

    const note = `note from chromium ${sid.slice(0, 8)} at ${new Date().toISOString()}`;
    await page.fill('#note-form input[name="note"]', note, { timeout: STEP_MS });
    await page.click('#save', { timeout: STEP_MS });
    // a form post and its redirect, or a script: either way #note shows it
    await page.locator('#note', { hasText: note }).waitFor({ timeout: NAV_MS });
    await page.waitForLoadState('load', { timeout: NAV_MS });
    expect((await noteOf(page)) === note, `after #save, #note is '${await noteOf(page)}'`);
    count = await countOf(page);
    console.log(`note saved; #count ${count}`);

    for (let i = 0; i < a.reloads; i++) {
      const r = await reload(page);
      seen.add(r.instance);
      expect(r.count === count + 1, `reload ${i + 1}: #count ${r.count}, want ${count + 1}`);
      count = r.count;
      console.log(`reload: #count ${count} from ${r.instance}`);
    }
    expect((await noteOf(page)) === note, 'the note is gone before the failure');

    console.log(`READY-FOR-FAILURE session=${sid} count=${count}`);
    expect(await waitForFile(a.go, a.goTimeout), `no ${a.go} within ${a.goTimeout} s`);
    const t0 = Date.now();
    for (let i = 0; i < a.reloads; i++) {
      const r = await reload(page);
      seen.add(r.instance);
      expect(r.count === count + 1,
             `after the failure, reload ${i + 1}: #count ${r.count}, want ${count + 1}`);
      count = r.count;
      console.log(`after failure: #count ${count} from ${r.instance}` +
                  (i === 0 ? ` (page loaded ${Date.now() - t0} ms after the go file was seen)` : ''));
      expect((await noteOf(page)) === note, `after the failure the note is '${await noteOf(page)}'`);
    }
    expect((await sessionCookie(context)) === sid, 'the session cookie changed');
    await page.screenshot({ path: a.screenshot, fullPage: true, timeout: STEP_MS });
    console.log(`SCREENSHOT ${a.screenshot}`);
    console.log(`E2E PASS count=${count} note kept, instances=${[...seen].sort().join(',')}`);
    return 0;
  } catch (e) {
    console.log(`E2E FAIL ${e instanceof Fail ? e.message : e.stack || e}`);
    await page.screenshot({ path: a.screenshot, fullPage: true, timeout: STEP_MS })
      .then(() => console.log(`SCREENSHOT ${a.screenshot} (at the failure)`), () => {});
    return 1;
  } finally {
    await browser.close();
  }
}

let args;
try {
  args = parseArgs(process.argv.slice(2));
} catch (e) {
  console.error(`web_sessions.mjs: ${e.message}`);
  process.exit(2);
}
const watchdog = setTimeout(() => {
  console.log(`E2E FAIL not done within ${args.maxSeconds} s`);
  process.exit(1);
}, args.maxSeconds * 1000);
process.exitCode = await run(args);
clearTimeout(watchdog);
