// Helpers for the browser tests: start an example binary (examples/*) on port 0, drive
// Debian's Chromium with playwright-core, and on failure print what each page logged and
// the WebSocket frames it sent and received.

import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { spawnListening } from '../process.mjs';

export const JS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const REPO_ROOT = resolve(JS_DIR, '..', '..');

/** Default time a wait may take before the test fails (ms). */
export const WAIT_MS = 5000;

/** Options for `test()`: a whole browser scenario may take this long. */
export const T = { timeout: 60_000 };

// ---------------------------------------------------------------------------------------
// Example servers

/** Where the example binaries are: `LIVESTATE_EXAMPLES_BIN_DIR`, else `target/debug`. */
const BIN_DIR = process.env.LIVESTATE_EXAMPLES_BIN_DIR
  ? resolve(process.env.LIVESTATE_EXAMPLES_BIN_DIR)
  : join(process.env.CARGO_TARGET_DIR ? resolve(REPO_ROOT, process.env.CARGO_TARGET_DIR) : join(REPO_ROOT, 'target'), 'debug');

/**
 * Starts the example binary `name` (`target/debug/NAME --bind 127.0.0.1:0 ...args`) and
 * resolves once it printed `listening on 127.0.0.1:PORT`. Throws (never skips) when the
 * binary is missing or does not start.
 */
export async function startExample(name, args = []) {
  const bin = join(BIN_DIR, name);
  if (!existsSync(bin)) {
    throw new Error(
      `the example binary ${bin} is missing: run \`cargo build --workspace --bins\` in the ` +
        'repository root (or set LIVESTATE_EXAMPLES_BIN_DIR)',
    );
  }
  const server = await spawnListening(bin, ['--bind', '127.0.0.1:0', ...args], {
    pattern: /^listening on 127\.0\.0\.1:(\d+)$/,
    label: name,
  });
  return {
    name,
    ...server,
    /** `http://127.0.0.1:PORT` + path. */
    url: (path = '/') => `http://127.0.0.1:${server.port}${path}`,
  };
}

// ---------------------------------------------------------------------------------------
// Chromium

/** Debian's Chromium (or CHROMIUM_PATH), headless, through playwright-core. */
export async function launchBrowser() {
  const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
  if (!existsSync(executablePath)) {
    throw new Error(`Chromium not found at ${executablePath} (apt-get install chromium, or set CHROMIUM_PATH)`);
  }
  return chromium.launch({
    executablePath,
    timeout: 30_000,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-sync',
    ],
  });
}

/**
 * The pages of one test. Each page records its console, its errors and its WebSocket
 * frames; `run` adds them (and the servers' logs) to the error when the test fails, and
 * closes the pages at the end.
 */
export class Pages {
  constructor(browser, servers = []) {
    this.browser = browser;
    this.servers = servers;
    this.opened = []; // {name, page, context, log: [string]}
  }

  /** Opens `url` in a new browser context (its own storage), named `name` in the log. */
  async open(url, name = `page ${this.opened.length + 1}`) {
    const context = await this.browser.newContext();
    const page = await context.newPage();
    page.setDefaultTimeout(WAIT_MS);
    const log = [];
    const at = () => new Date().toISOString().slice(11, 23);
    page.on('console', (m) => log.push(`${at()} console.${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => log.push(`${at()} page error: ${e.message}`));
    page.on('requestfailed', (r) => log.push(`${at()} request failed: ${r.url()} ${r.failure()?.errorText}`));
    page.on('response', (r) => r.status() >= 400 && log.push(`${at()} HTTP ${r.status()} for ${r.url()}`));
    page.on('websocket', (ws) => {
      log.push(`${at()} websocket ${ws.url()}`);
      ws.on('framesent', (f) => log.push(`${at()} C ${f.payload}`));
      ws.on('framereceived', (f) => log.push(`${at()} S ${f.payload}`));
      ws.on('close', () => log.push(`${at()} websocket closed`));
    });
    this.opened.push({ name, page, context, log });
    await page.goto(url, { timeout: WAIT_MS });
    return page;
  }

  /** What every page logged, and the servers' stderr, for a failure message. */
  diagnostics(last = 60) {
    const parts = this.opened.map(({ name, page, log }) => {
      const lines = log.slice(-last);
      return `--- ${name} (${page.url()}): last ${lines.length} of ${log.length} console lines and frames\n  ${lines.join('\n  ')}`;
    });
    for (const s of this.servers) {
      const lines = s.stderr().trimEnd().split('\n').filter(Boolean).slice(-20);
      parts.push(`--- ${s.name} server's stderr: ${lines.length ? `last ${lines.length} lines\n  ${lines.join('\n  ')}` : '(nothing)'}`);
    }
    return parts.join('\n');
  }

  /** Runs the scenario `body(this)`; a failure carries the diagnostics. Closes the pages. */
  async run(body) {
    try {
      await body(this);
    } catch (e) {
      throw new Error(`${e.message}\n\n${this.diagnostics()}`, { cause: e });
    } finally {
      for (const { context } of this.opened) await context.close().catch(() => {});
    }
  }
}

/** Runs a scenario with fresh `Pages` (see `Pages.run`). */
export function withPages(browser, servers, body) {
  return new Pages(browser, servers).run(body);
}

// ---------------------------------------------------------------------------------------
// Waits (each with a timeout, and a message saying what was there instead)

/** Waits until the text of `selector` is exactly `text`. */
export async function waitForText(page, selector, text, timeout = WAIT_MS) {
  try {
    await page.waitForFunction(
      ([sel, want]) => document.querySelector(sel)?.textContent === want,
      [selector, text],
      { timeout },
    );
  } catch (e) {
    const seen = await page.locator(selector).first().textContent({ timeout: 100 }).catch(() => '(no such element)');
    throw new Error(`${selector} did not show ${JSON.stringify(text)} within ${timeout} ms; it shows ${JSON.stringify(seen)}`, {
      cause: e,
    });
  }
}

/** The texts of every element matching `selector`. */
export function texts(page, selector) {
  return page.locator(selector).allTextContents();
}

/** Waits until the texts of the elements matching `selector` are exactly `want`. */
export async function waitForTexts(page, selector, want, timeout = WAIT_MS) {
  try {
    await page.waitForFunction(
      ([sel, want]) => JSON.stringify([...document.querySelectorAll(sel)].map((e) => e.textContent)) === want,
      [selector, JSON.stringify(want)],
      { timeout },
    );
  } catch (e) {
    const seen = await texts(page, selector);
    throw new Error(`${selector} did not show ${JSON.stringify(want)} within ${timeout} ms; it shows ${JSON.stringify(seen)}`, {
      cause: e,
    });
  }
}

/** Waits until `selector` is enabled (`disabled` false) or disabled. */
export async function waitForEnabled(page, selector, enabled = true, timeout = WAIT_MS) {
  try {
    await page.waitForFunction(
      ([sel, enabled]) => document.querySelector(sel)?.disabled === !enabled,
      [selector, enabled],
      { timeout },
    );
  } catch (e) {
    throw new Error(`${selector} was not ${enabled ? 'enabled' : 'disabled'} within ${timeout} ms`, { cause: e });
  }
}
