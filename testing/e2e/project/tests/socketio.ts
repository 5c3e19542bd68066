/**
 * Playwright fixtures for Flask-SocketIO apps served by `python -m flask_socketio_testing.serve`.
 *
 * Shipped with flask_socketio_testing (flask_socketio_testing/e2e/project/tests/socketio.ts) and
 * copied here by `init`; extend `test` with your own fixtures rather than editing this file.
 *
 * - `appURL`: the app's origin, e.g. http://127.0.0.1:41234 (from the webServer's printed URL).
 * - `openHarness()`: opens the harness page (this project's socket.io-client build loaded) in the
 *   test's page or in another browser context.
 * - `harnessPage`: the test's page on the harness page, no socket open yet.
 * - `connectedPage`: the same with a socket named 'app' connected to `socketioNamespace` with
 *   `socketioAuth` (options set in playwright.config.ts from socketio.json).
 *
 * In the page, `harness` (see the declaration below) opens named sockets and records what each
 * sees; specs call it through `page.evaluate()`.
 */
import { test as base, expect, type BrowserContext, type Page } from '@playwright/test';

/** Where the harness is mounted on the app, and its echo namespace. */
export const HARNESS_PATH = '/_socketio_harness/';
export const ECHO_NAMESPACE = '/_harness';

export type SocketIOOptions = {
  /** node_modules folder of the socket.io-client build the page loads (one per project). */
  clientPackage: string;
  /** Namespace `connectedPage` connects to. */
  socketioNamespace: string;
  /** Auth payload `connectedPage` sends with its connect (null: none). */
  socketioAuth: unknown;
};

export type SocketIOFixtures = {
  appURL: string;
  openHarness: (opts?: { origin?: string; context?: BrowserContext }) => Promise<Page>;
  harnessPage: Page;
  connectedPage: Page;
};

/** What a socket saw: connects, disconnects, connect errors and events (args[0] is the name). */
export type HarnessEntry = { type: 'connect' | 'disconnect' | 'connect_error' | 'event'; args: any[]; at: number };
export type SocketInfo = { id: string; connected: boolean; engineId: string | null; transport: string | null };

/** `window.harness` in the harness page (harness.js). */
export interface Harness {
  client: { package: string; version: string };
  sockets: Record<string, any>;
  events: Record<string, HarnessEntry[]>;
  /** Answers the page gives to the server's `question` calls, per socket name. */
  answers: Record<string, unknown>;
  /** Open socket `name` to a URL or a namespace path of this origin; resolves on connect. */
  open(name: string, url: string, opts?: Record<string, unknown>): Promise<SocketInfo>;
  /** Like open() without reconnection; resolves with the connect error instead of rejecting. */
  openExpectingError(
    name: string,
    url: string,
    opts?: Record<string, unknown>,
  ): Promise<{ connected: true; info: SocketInfo } | { connected: false; error: { message: string; data: unknown } }>;
  info(name: string): SocketInfo;
  waitForTransport(name: string, transport: string, ms?: number): Promise<SocketInfo>;
  /** Emit with an ack; resolves with the ack's arguments. */
  call(name: string, event: string, args?: unknown[], ms?: number): Promise<any[]>;
  emit(name: string, event: string, args?: unknown[]): void;
  /** First entry of `type` (and event name) at index >= from. */
  waitForEvent(name: string, type: HarnessEntry['type'], eventName?: string | null, from?: number, ms?: number): Promise<{ index: number; args: any[] }>;
  count(name: string, type: HarnessEntry['type'], eventName?: string | null): number;
  close(name: string): void;
  closeAll(): void;
  bytes(length: number, seed?: number): Uint8Array;
  sameBytes(received: unknown, expected: Uint8Array): { ok: boolean; why?: string; kind?: string; length?: number };
}

declare global {
  const harness: Harness;
}

function appURLFromEnv(): string {
  const url = process.env.SOCKETIO_APP_URL;
  if (!url) {
    throw new Error('SOCKETIO_APP_URL is not set: run "npx playwright test" (its webServer serves the app)');
  }
  return url;
}

export const test = base.extend<SocketIOFixtures & SocketIOOptions>({
  clientPackage: ['socket.io-client', { option: true }],
  socketioNamespace: ['/', { option: true }],
  socketioAuth: [null, { option: true }],

  appURL: async ({}, use) => {
    await use(appURLFromEnv());
  },

  openHarness: async ({ page, appURL, clientPackage }, use) => {
    await use(async (opts = {}) => {
      const target = opts.context ? await opts.context.newPage() : page;
      const origin = opts.origin ?? appURL;
      const response = await target.goto(`${origin}${HARNESS_PATH}?client=${encodeURIComponent(clientPackage)}`);
      expect(response?.status(), `the harness page at ${origin}${HARNESS_PATH}`).toBe(200);
      await target.waitForFunction(() => typeof (window as any).io === 'function' && !!(window as any).harness);
      return target;
    });
  },

  harnessPage: async ({ openHarness }, use) => {
    await use(await openHarness());
  },

  connectedPage: async ({ harnessPage, socketioNamespace, socketioAuth }, use) => {
    await harnessPage.evaluate(
      ([ns, auth]) => harness.open('app', ns, auth == null ? {} : { auth }),
      [socketioNamespace, socketioAuth] as const,
    );
    await use(harnessPage);
    await harnessPage.evaluate(() => harness.closeAll());
  },
});

export { expect };

/** Transports to connect with, as socket.io-client options. */
export const TRANSPORTS = {
  websocket: { transports: ['websocket'] },
  polling: { transports: ['polling'] },
  default: {},
} as const;
