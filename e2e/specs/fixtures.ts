/**
 * Shared fixtures: the e2e app's address, a page with the project's socket.io-client loaded,
 * and extra Socket.IO servers spawned (and stopped) per test.
 */
import { test as base, expect, type APIRequestContext, type BrowserContext, type Page } from '@playwright/test';

export type ClientOptions = {
  /** node_modules folder of the socket.io-client build the page loads (set per project). */
  clientPackage: string;
};

export type SpawnOptions = {
  cors_allowed_origins?: string | string[];
  serializer?: 'msgpack';
};

export type SpawnedServer = {
  id: string;
  port: number;
  /** http://127.0.0.1:<port> */
  origin: string;
  /** Stop it, drop every connection and all state, start a fresh one on the same port. */
  restart: (downtimeSeconds?: number) => Promise<void>;
};

type Fixtures = {
  /** Origin of the main server (default options: same-origin only), e.g. http://127.0.0.1:41234 */
  appOrigin: string;
  /** What /config reports: max_http_buffer_size, private_token. */
  appConfig: { max_http_buffer_size: number; private_token: string };
  /** Open the test page (this project's client) from an origin, in a context (default: the test's page). */
  openPage: (opts?: { origin?: string; context?: BrowserContext }) => Promise<Page>;
  /** The test's page, already on the main origin with the client loaded. */
  client: Page;
  /** Start another Socket.IO server with these options; stopped when the test ends. */
  spawnServer: (options?: SpawnOptions) => Promise<SpawnedServer>;
};

function appOriginFromEnv(): string {
  const port = process.env.E2E_APP_PORT;
  if (!port) {
    throw new Error('E2E_APP_PORT is not set: run the suite with "npx playwright test" (the webServer sets it)');
  }
  return `http://127.0.0.1:${port}`;
}

async function postJson(request: APIRequestContext, url: string, data?: unknown): Promise<any> {
  const response = await request.post(url, { data: data ?? {} });
  expect(response.ok(), `${url} answered ${response.status()}: ${await response.text()}`).toBeTruthy();
  return response.json();
}

export const test = base.extend<Fixtures & ClientOptions>({
  clientPackage: ['socket.io-client', { option: true }],

  appOrigin: async ({}, use) => {
    await use(appOriginFromEnv());
  },

  appConfig: async ({ request, appOrigin }, use) => {
    const response = await request.get(`${appOrigin}/config`);
    await use(await response.json());
  },

  openPage: async ({ page, appOrigin, clientPackage }, use) => {
    await use(async (opts = {}) => {
      const target = opts.context ? await opts.context.newPage() : page;
      const origin = opts.origin ?? appOrigin;
      await target.goto(`${origin}/?client=${encodeURIComponent(clientPackage)}`);
      await target.waitForFunction(() => typeof (window as any).io === 'function' && !!(window as any).h);
      return target;
    });
  },

  client: async ({ openPage }, use) => {
    await use(await openPage());
  },

  spawnServer: async ({ request, appOrigin }, use) => {
    const started: string[] = [];
    await use(async (options = {}) => {
      const { id, port } = await postJson(request, `${appOrigin}/control/spawn`, options);
      started.push(id);
      return {
        id,
        port,
        origin: `http://127.0.0.1:${port}`,
        restart: async (downtimeSeconds = 0.3) => {
          await postJson(request, `${appOrigin}/control/restart/${id}?downtime=${downtimeSeconds}`);
        },
      };
    });
    for (const id of started) {
      await request.post(`${appOrigin}/control/stop/${id}`);
    }
  },
});

export { expect };

/** Transports to connect with, as socket.io-client options. */
export const TRANSPORTS = {
  websocket: { transports: ['websocket'] },
  polling: { transports: ['polling'] },
  default: {},
} as const;
