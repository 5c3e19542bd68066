import type { Page } from '@playwright/test';
import { test, expect, TRANSPORTS } from './fixtures';

/** Records, per server port, whether any WebSocket to it received an Engine.IO OPEN packet. */
function watchWebSockets(page: Page) {
  const opened = new Set<string>();
  page.on('websocket', (ws) => {
    ws.on('framereceived', ({ payload }) => {
      if (typeof payload === 'string' && payload.startsWith('0{')) opened.add(new URL(ws.url()).port);
    });
  });
  return opened;
}

test.describe('CORS', () => {
  for (const label of ['websocket', 'polling', 'default'] as const) {
    test(`a page from another origin is refused by default, allowed when cors_allowed_origins names it (${label})`, async ({
      harnessPage,
      openHarness,
      spawnServer,
      appURL,
    }) => {
      const sessions = watchWebSockets(harnessPage);
      // the page lives on appURL; these servers listen on other ports (other origins)
      const strict = await spawnServer({});
      const elsewhere = await spawnServer({ cors_allowed_origins: ['http://127.0.0.1:1'] });
      const open = await spawnServer({ cors_allowed_origins: [appURL] });
      // a short connect timeout: over gevent-websocket a refused WebSocket is upgraded and then
      // closed without an Engine.IO OPEN, which the client reports only when its timeout fires
      const opts = Object.assign({ timeout: 2500 }, TRANSPORTS[label]);

      const refusals = await harnessPage.evaluate(
        ([urls, o]) => Promise.all(urls.map((url) => harness.openExpectingError(`refused-${url}`, url, o))),
        [[strict.origin, elsewhere.origin], opts] as const,
      );
      for (const [i, server] of [strict, elsewhere].entries()) {
        const refused = refusals[i];
        expect(refused.connected, `${server.origin} let ${appURL} in`).toBe(false);
        expect(refused.error.message).toMatch(/error|timeout/);
        expect(sessions.has(String(server.port)), 'the refused server handed out an Engine.IO session').toBe(false);
        test.info().annotations.push({ type: `refusal (${label})`, description: refused.error.message });
      }

      const allowed = await harnessPage.evaluate(async ([url, o]) => {
        const info = await harness.open('open', url, o);
        return { info, echo: (await harness.call('open', 'echo', ['cross-origin ok']))[0] };
      }, [open.origin, opts] as const);
      expect(allowed.echo).toBe('cross-origin ok');

      // the strict server does accept a page served from its own origin
      const own = await openHarness({ origin: strict.origin, context: harnessPage.context() });
      const sameOrigin = await own.evaluate(async (o) => {
        await harness.open('own', '/', o);
        return (await harness.call('own', 'echo', ['same origin ok']))[0];
      }, opts);
      expect(sameOrigin).toBe('same origin ok');
    });
  }
});
