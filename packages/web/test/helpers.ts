/**
 * End-to-end test kit: build the web app once per test file (into a temporary directory, served via
 * PARLEY_WEB_DIR so that concurrent test files never share a build), run a real Parley node in
 * process, and drive Debian's Chromium through playwright-core, one persistent context per user.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { pino } from 'pino';
import { build } from 'vite';
import { ParleyNode } from '../../server/src/node.ts';
import type { PartialOptions } from '../../server/src/options.ts';
import { loopbackOnly } from '../../server/src/rtc/MeetingOptions.ts';

export const WEB_ROOT = fileURLToPath(new URL('..', import.meta.url));
export const DOCS = fileURLToPath(new URL('../../../docs/', import.meta.url));
export const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
/** Generous: reconnect backoff alone may reach 15 s. */
export const LONG = 60_000;

/**
 * Locally the browser tests skip when Chromium is missing; in CI they must run, so there the launch
 * is attempted anyway and fails loudly.
 */
export const skipBrowser: string | false = !existsSync(CHROMIUM) && process.env['CI'] !== 'true' ? `no Chromium at ${CHROMIUM}` : false;

const temps: string[] = [];
export function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  temps.push(d);
  return d;
}
export function cleanTemps(): void {
  for (const d of temps.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** Build the app with Vite into a fresh directory and point the server at it. */
export async function buildApp(): Promise<string> {
  const out = tempDir('parley-web-dist-');
  await build({ root: WEB_ROOT, logLevel: 'warn', build: { outDir: out, emptyOutDir: true, sourcemap: false } });
  process.env['PARLEY_WEB_DIR'] = out;
  return out;
}

export async function startNode(dataDir: string, port = 0, options: PartialOptions = {}): Promise<ParleyNode> {
  return ParleyNode.start({ port, host: '127.0.0.1', dataDir, tokenSecret: 'x', ...options }, { logger: pino({ level: process.env['PARLEY_TEST_LOG'] ?? 'silent' }) });
}

/** Meetings on loopback only: the SFU offers 127.0.0.1 and keeps only 127.0.0.1 candidate pairs. */
export const LOOPBACK_MEETINGS: PartialOptions['meetings'] = { hostAddresses: ['127.0.0.1'], candidatePairFilter: loopbackOnly, ipv6: false };

/** Chromium flags for meetings: fake camera and microphone, no permission prompt, loopback ICE. */
const MEDIA_ARGS = ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', '--allow-loopback-in-peer-connection'];

export interface User {
  handle: string;
  ctx: BrowserContext;
  page: Page;
}

export async function launch(handle: string, viewport = { width: 1100, height: 720 }, opts: { media?: boolean } = {}): Promise<User> {
  const ctx = await chromium.launchPersistentContext(tempDir(`parley-chromium-${handle}-`), {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    locale: 'en-GB',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', ...(opts.media ? MEDIA_ARGS : [])],
    ...(opts.media ? { permissions: ['camera', 'microphone'] } : {}),
  });
  ctx.setDefaultTimeout(LONG);
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  page.on('pageerror', (err) => console.error(`[${handle}] page error:`, err));
  if (process.env['PARLEY_TEST_PAGE_LOG']) page.on('console', (m) => console.error(`[${handle}]`, m.text()));
  return { handle, ctx, page };
}

export async function register(u: User, url: string, password = 'correct horse'): Promise<void> {
  await u.page.goto(url);
  await u.page.getByTestId('login-toggle').click();
  await u.page.getByTestId('login-handle').fill(u.handle);
  await u.page.getByTestId('login-password').fill(password);
  await u.page.getByTestId('login-submit').click();
  await u.page.getByTestId('me').filter({ hasText: u.handle }).waitFor();
}

/** The row of a conversation in the list, by its name. */
export function convRow(page: Page, name: string): Locator {
  return page.locator(`[data-testid="conv-item"][data-name="${name}"]`);
}

export function messages(page: Page): Locator {
  return page.locator('[data-testid="chat"] [data-testid="message"]');
}

/** Every message with this exact body in the open chat. */
export function messagesWith(page: Page, body: string): Locator {
  return messages(page).filter({ has: page.getByTestId('message-body').getByText(body, { exact: true }) });
}

export async function sendText(page: Page, text: string): Promise<void> {
  const box = page.getByTestId('composer');
  await box.fill(text);
  await box.press('Enter');
}

/** Wait until `f()` holds (polling), for assertions that are not about one element. */
export async function until(what: string, f: () => Promise<boolean> | boolean, timeoutMs = LONG): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await f()) return;
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function docsPath(name: string): string {
  mkdirSync(DOCS, { recursive: true });
  return join(DOCS, name);
}
