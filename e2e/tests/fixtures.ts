/**
 * This suite's fixtures: the shipped ones (socketio.ts, the same file `init` writes into a user's
 * project) plus what the e2e app offers: its /config facts and extra Socket.IO servers spawned
 * (and stopped) per test through its control API.
 */
import type { APIRequestContext } from '@playwright/test';
import { test as socketioTest, expect, TRANSPORTS } from './socketio';

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

type E2EFixtures = {
  /** What /config reports: max_http_buffer_size, private_token. */
  appConfig: { max_http_buffer_size: number; private_token: string };
  /** Start another Socket.IO server with these options; stopped when the test ends. */
  spawnServer: (options?: SpawnOptions) => Promise<SpawnedServer>;
};

async function postJson(request: APIRequestContext, url: string, data?: unknown): Promise<any> {
  const response = await request.post(url, { data: data ?? {} });
  expect(response.ok(), `${url} answered ${response.status()}: ${await response.text()}`).toBeTruthy();
  return response.json();
}

export const test = socketioTest.extend<E2EFixtures>({
  appConfig: async ({ request, appURL }, use) => {
    const response = await request.get(`${appURL}/config`);
    await use(await response.json());
  },

  spawnServer: async ({ request, appURL }, use) => {
    const started: string[] = [];
    await use(async (options = {}) => {
      const { id, port } = await postJson(request, `${appURL}/control/spawn`, options);
      started.push(id);
      return {
        id,
        port,
        origin: `http://127.0.0.1:${port}`,
        restart: async (downtimeSeconds = 0.3) => {
          await postJson(request, `${appURL}/control/restart/${id}?downtime=${downtimeSeconds}`);
        },
      };
    });
    for (const id of started) {
      await request.post(`${appURL}/control/stop/${id}`);
    }
  },
});

export { expect, TRANSPORTS };
