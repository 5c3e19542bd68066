/**
 * Example specs that hold for any Flask-SocketIO app: they use only connect and disconnect on your
 * app's namespace (with the auth from socketio.json) and the harness's own echo namespace for acks
 * and server events. Copy them into specs for your own events.
 */
import { test, expect, ECHO_NAMESPACE, TRANSPORTS } from './socketio';

test.describe('connect', () => {
  for (const label of ['websocket', 'polling'] as const) {
    test(`the app accepts a connection over ${label}`, async ({ harnessPage, socketioNamespace, socketioAuth }) => {
      const opts = { ...TRANSPORTS[label], ...(socketioAuth == null ? {} : { auth: socketioAuth }) };
      const info = await harnessPage.evaluate(([ns, o]) => harness.open('app', ns, o), [socketioNamespace, opts] as const);
      expect(info.connected).toBe(true);
      expect(info.id).toBeTruthy();
      expect(info.transport).toBe(label);
    });
  }

  test('the page loads the client version of this project', async ({ connectedPage, clientPackage }, testInfo) => {
    const client = await connectedPage.evaluate(() => harness.client);
    expect(client.package).toBe(clientPackage);
    expect(testInfo.project.name).toBe(`socket.io-client@${client.version}`);
  });
});

test.describe('events', () => {
  test('emit with an ack: the echo comes back as the ack arguments', async ({ connectedPage }) => {
    const payload = { text: 'héllo ✓', n: 42, nested: { list: [1, 'two', null, true] } };
    const ack = await connectedPage.evaluate(
      async ([ns, p]) => {
        await harness.open('echo', ns);
        return harness.call('echo', 'echo', [p, 'second']);
      },
      [ECHO_NAMESPACE, payload] as const,
    );
    expect(ack).toEqual([payload, 'second']);
  });

  test('a server event reaches the page', async ({ connectedPage }) => {
    const received = await connectedPage.evaluate(async (ns) => {
      await harness.open('echo', ns);
      const from = harness.events.echo.length;
      harness.emit('echo', 'echo_event', [{ hello: 'from the page' }]);
      return (await harness.waitForEvent('echo', 'event', 'echoed', from, 5000)).args;
    }, ECHO_NAMESPACE);
    expect(received).toEqual(['echoed', { hello: 'from the page' }]);
  });

  test('an event without an ack keeps the connection up', async ({ connectedPage }) => {
    const after = await connectedPage.evaluate(async (ns) => {
      harness.emit('app', 'example-event-without-ack', [{ n: 1 }]);
      // the echo socket shares the app socket's connection: its round trip comes after the emit
      await harness.open('echo', ns);
      await harness.call('echo', 'echo', ['after']);
      return { info: harness.info('app'), disconnects: harness.count('app', 'disconnect') };
    }, ECHO_NAMESPACE);
    expect(after.info.connected).toBe(true);
    expect(after.disconnects).toBe(0);
  });
});

test('disconnect: the page closes its socket and the client says why', async ({ connectedPage }) => {
  const result = await connectedPage.evaluate(async () => {
    const from = harness.events.app.length;
    harness.close('app');
    const event = await harness.waitForEvent('app', 'disconnect', null, from, 5000);
    return { reason: event.args[0], connected: harness.info('app').connected };
  });
  expect(result).toEqual({ reason: 'io client disconnect', connected: false });
});
