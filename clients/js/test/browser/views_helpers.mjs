// Helpers for views.test.mjs: live views of `livestate-view-testapp` driven in Chromium by
// the stock phoenix_live_view client of line 1.1 or 1.2. Each page's context serves
// /live/live.js from dist-test/ (the bootstrap bundled with that line), each page checks
// which line runs once connected, and a scenario fails on any page error or console error
// or warning that is not expected (the version-mismatch warning on 1.1, a 404 for
// /favicon.ico, and what a scenario allows itself).

import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import assert from 'node:assert/strict';
import { spawnListening } from '../process.mjs';
import { JS_DIR, REPO_ROOT, Pages, startExample, waitForText, waitForTexts } from './helpers.mjs';

/** How long a wait may take: generous, so that the suite passes on a fully busy machine. */
export const WAIT = 15_000;

/** Options for `test()`: a whole scenario may take this long. */
export const TEST = { timeout: 120_000 };

/** The phoenix_live_view version the server reports (`liveview_version` in a join reply). */
export const SERVER_LV_VERSION = '1.2.12';

/** The client lines, each with the bundle that replaces /live/live.js. */
export const LINES = [
  { name: '1.1', version: '1.1.32', bundle: join(JS_DIR, 'dist-test', 'live11.js') },
  { name: '1.2', version: '1.2.12', bundle: join(JS_DIR, 'dist-test', 'live12.js') },
];

/** The client the server serves itself at /live/live.js (the examples' tests run it). */
export const SERVED = { name: 'served /live/live.js', version: SERVER_LV_VERSION, bundle: null };

/** The root element of the main live view, once connected. */
export const CONNECTED = '[data-phx-main].phx-connected';

// ---------------------------------------------------------------------------------------
// The server

export const TESTAPP = 'livestate-view-testapp';

/** Where `startExample` finds the binaries (the same rule as helpers.mjs). */
function testappBin() {
  const dir = process.env.LIVESTATE_EXAMPLES_BIN_DIR
    ? resolve(process.env.LIVESTATE_EXAMPLES_BIN_DIR)
    : join(process.env.CARGO_TARGET_DIR ? resolve(REPO_ROOT, process.env.CARGO_TARGET_DIR) : join(REPO_ROOT, 'target'), 'debug');
  return join(dir, TESTAPP);
}

/** Starts the test app on port 0 (see `startExample`). */
export function startTestApp() {
  return startExample(TESTAPP);
}

/**
 * A test app that can be killed and started again on the same port: {name, port, url(),
 * stderr() (of every process so far), kill(), restart(), stop()}.
 */
export async function startRestartableTestApp() {
  let current = await startTestApp();
  const port = current.port;
  let earlier = '';
  return {
    name: `${TESTAPP} (restartable)`,
    port,
    url: (path = '/') => `http://127.0.0.1:${port}${path}`,
    stderr: () => earlier + current.stderr(),
    /** SIGKILL, and wait until the process is gone. Resolves to {code, signal}. */
    async kill() {
      const { child } = current;
      const gone =
        child.exitCode !== null || child.signalCode !== null
          ? Promise.resolve()
          : new Promise((res) => child.once('exit', res));
      child.kill('SIGKILL');
      await gone;
      return { code: child.exitCode, signal: child.signalCode };
    },
    /** Starts a new process bound to the same port (the old one must be gone). */
    async restart() {
      earlier += current.stderr() + `--- killed; started again on port ${port}\n`;
      current = await spawnListening(testappBin(), ['--bind', `127.0.0.1:${port}`], {
        pattern: /^listening on 127\.0\.0\.1:(\d+)$/,
        label: TESTAPP,
      });
      assert.equal(current.port, port, 'the restarted server listens on another port');
    },
    stop: () => current.stop(),
  };
}

// ---------------------------------------------------------------------------------------
// Pages of one line

/**
 * The pages of one scenario on one client line (see `Pages`): every context serves the
 * line's bundle at /live/live.js (or, for `SERVED`, the server's own); `run` also fails
 * when a page logged an unexpected error.
 */
export class LivePages extends Pages {
  constructor(browser, servers, line) {
    super(browser, servers);
    if (line.bundle && !existsSync(line.bundle)) {
      throw new Error(`the test bundle ${line.bundle} is missing: run \`node build.mjs --test-bundles\` in clients/js (npm test does)`);
    }
    this.line = line;
    /** Console errors, warnings and page errors nobody expected. */
    this.unexpected = [];
    /** How many "LiveView asset version mismatch" warnings the pages logged. */
    this.mismatchWarnings = 0;
    /** Patterns of console messages this scenario expects (see `allow`). */
    this.allowed = [];
  }

  /** Lets console errors and warnings matching `pattern` pass (e.g. a refused WebSocket). */
  allow(pattern) {
    this.allowed.push({ pattern, seen: 0 });
  }

  /** How many console errors and warnings matched `pattern`, given to `allow` before. */
  seen(pattern) {
    const entry = this.allowed.find((a) => a.pattern === pattern);
    assert.ok(entry, `${pattern} was not allowed`);
    return entry.seen;
  }

  /**
   * A new browser context serving the line's bundle (none for `SERVED`: the server's own),
   * with `cookies` (for `addCookies`).
   */
  async newContext({ cookies = [] } = {}) {
    const context = await this.browser.newContext();
    context.setDefaultTimeout(WAIT);
    context.setDefaultNavigationTimeout(WAIT);
    if (this.line.bundle) {
      await context.route('**/live/live.js', (route) =>
        route.fulfill({ path: this.line.bundle, contentType: 'text/javascript; charset=utf-8' }),
      );
    }
    if (cookies.length) await context.addCookies(cookies);
    return context;
  }

  /** Whether a console message of `type` is one a page of this line may log. */
  expected(type, text, url) {
    const mismatch = /^LiveView asset version mismatch\. JavaScript version (\S+) vs\. server (\S+)\./.exec(text);
    if (type === 'warning' && mismatch) {
      this.mismatchWarnings += 1;
      return mismatch[1] === this.line.version && mismatch[2] === SERVER_LV_VERSION && this.line.version !== SERVER_LV_VERSION;
    }
    if (type === 'error' && /Failed to load resource.* 404 /.test(text) && url.endsWith('/favicon.ico')) return true;
    const entry = this.allowed.find((a) => a.pattern.test(text));
    if (entry) entry.seen += 1;
    return Boolean(entry);
  }

  /**
   * Opens `url` in a new page (of `context`, else of a new context), records what it logs,
   * and, unless `connect` is false, waits until the main view is connected and checks the
   * client's version.
   */
  async open(url, { name = `page ${this.opened.length + 1}`, context, connect = true } = {}) {
    context ??= await this.newContext();
    const page = await context.newPage();
    page.setDefaultTimeout(WAIT);
    page.setDefaultNavigationTimeout(WAIT);
    const log = [];
    const at = () => new Date().toISOString().slice(11, 23);
    page.on('console', (m) => {
      const type = m.type();
      const text = m.text();
      const where = m.location()?.url ?? '';
      log.push(`${at()} console.${type}: ${text}${where ? ` (${where})` : ''}`);
      if ((type === 'error' || type === 'warning') && !this.expected(type, text, where)) {
        this.unexpected.push(`${name}: console.${type}: ${text}${where ? ` (${where})` : ''}`);
      }
    });
    page.on('pageerror', (e) => {
      log.push(`${at()} page error: ${e.message}`);
      this.unexpected.push(`${name}: page error: ${e.message}`);
    });
    page.on('framenavigated', (f) => f === page.mainFrame() && log.push(`${at()} navigated to ${f.url()}`));
    page.on('requestfailed', (r) => log.push(`${at()} request failed: ${r.url()} ${r.failure()?.errorText}`));
    page.on('response', (r) => r.status() >= 400 && log.push(`${at()} HTTP ${r.status()} for ${r.url()}`));
    const sent = [];
    page.on('websocket', (ws) => {
      log.push(`${at()} websocket ${ws.url()}`);
      ws.on('framesent', (f) => {
        log.push(`${at()} C ${f.payload}`);
        sent.push(f.payload);
      });
      ws.on('framereceived', (f) => log.push(`${at()} S ${f.payload}`));
      ws.on('close', () => log.push(`${at()} websocket closed`));
    });
    this.opened.push({ name, page, context, log, sent });
    await page.goto(url);
    if (connect) await this.connected(page);
    return page;
  }

  /** How many `phx_join` messages `page` sent on its sockets so far (joins and rejoins). */
  joins(page) {
    const entry = this.opened.find((o) => o.page === page);
    assert.ok(entry, 'not a page of these pages');
    return entry.sent.filter((f) => {
      try {
        return JSON.parse(f)[3] === 'phx_join';
      } catch {
        return false;
      }
    }).length;
  }

  /** Waits until the page's main view is connected, and checks that it runs this line. */
  async connected(page) {
    await waitConnected(page);
    const version = await page.evaluate(() => window.liveSocket?.version());
    assert.equal(version, this.line.version, `the page runs phoenix_live_view ${version}, not line ${this.line.name}`);
  }

  /**
   * Runs the scenario (see `Pages.run`); then no page may have logged anything unexpected.
   * With LIVESTATE_TEST_VERBOSE set, prints every page's log (and frames) after a pass too.
   */
  run(body) {
    return super.run(async (pages) => {
      await body(pages);
      assert.deepEqual(this.unexpected, [], 'the pages logged unexpected errors or warnings');
      if (process.env.LIVESTATE_TEST_VERBOSE) console.log(this.diagnostics(1000));
    });
  }
}

/** Runs a scenario with fresh `LivePages` of `line`. */
export function withLivePages(browser, servers, line, body) {
  return new LivePages(browser, servers, line).run(body);
}

// ---------------------------------------------------------------------------------------
// Waits (WAIT long) and checks

/** Waits until the main view's root has `.phx-connected`. */
export async function waitConnected(page) {
  try {
    await page.waitForSelector(CONNECTED, { state: 'attached', timeout: WAIT });
  } catch (e) {
    const classes = await page
      .evaluate(() => document.querySelector('[data-phx-main]')?.className ?? '(no [data-phx-main])')
      .catch((err) => `(${err.message})`);
    throw new Error(`the main view did not connect within ${WAIT} ms; its classes: ${JSON.stringify(classes)}`, { cause: e });
  }
}

/** Waits until the text of `selector` is `text`. */
export const text = (page, selector, want) => waitForText(page, selector, want, WAIT);

/** Waits until the texts of the elements matching `selector` are `want`. */
export const texts = (page, selector, want) => waitForTexts(page, selector, want, WAIT);

/** The text of `selector` now. */
export const textNow = (page, selector) =>
  page.evaluate((sel) => document.querySelector(sel)?.textContent ?? null, selector);

/** Waits until no element matches `selector`. */
export async function waitGone(page, selector) {
  try {
    await page.waitForSelector(selector, { state: 'detached', timeout: WAIT });
  } catch (e) {
    throw new Error(`${selector} was still there after ${WAIT} ms`, { cause: e });
  }
}

/** Waits until the document's title is `want`. */
export async function waitTitle(page, want) {
  try {
    await page.waitForFunction((t) => document.title === t, want, { timeout: WAIT });
  } catch (e) {
    throw new Error(`the title did not become ${JSON.stringify(want)} within ${WAIT} ms; it is ${JSON.stringify(await page.title())}`, {
      cause: e,
    });
  }
}

/** Waits until `selector`'s attribute `name` is `want` (a string). */
export async function waitAttribute(page, selector, name, want) {
  try {
    await page.waitForFunction(([sel, n, w]) => document.querySelector(sel)?.getAttribute(n) === w, [selector, name, want], {
      timeout: WAIT,
    });
  } catch (e) {
    const seen = await page.evaluate(([sel, n]) => document.querySelector(sel)?.getAttribute(n), [selector, name]);
    throw new Error(`${selector}[${name}] did not become ${JSON.stringify(want)} within ${WAIT} ms; it is ${JSON.stringify(seen)}`, {
      cause: e,
    });
  }
}

/** Waits until the page's URL (path and query) is `want`. */
export async function waitPath(page, want) {
  try {
    await page.waitForFunction((w) => location.pathname + location.search === w, want, { timeout: WAIT });
  } catch (e) {
    throw new Error(`the URL did not become ${want} within ${WAIT} ms; it is ${page.url()}`, { cause: e });
  }
}

/** Sets a marker on `window`: it lives as long as no page load replaces the document. */
export const setMarker = (page) => page.evaluate(() => (window.__livestateMarker = 'kept'));

/** Whether the marker set by `setMarker` is still there. */
export const hasMarker = (page) => page.evaluate(() => window.__livestateMarker === 'kept');
