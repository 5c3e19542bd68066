import { test, expect } from './fixtures';

test.describe('namespaces', () => {
  test('/ and /chat multiplexed on one connection', async ({ harnessPage }) => {
    const result = await harnessPage.evaluate(async () => {
      const root = await harness.open('root', '/');
      const chat = await harness.open('chat', '/chat');
      const [rootSeen] = await harness.call('root', 'whoami');
      const [chatSeen] = await harness.call('chat', 'whoami');
      return {
        sameManager: harness.sockets.root.io === harness.sockets.chat.io,
        root, chat, rootSeen, chatSeen,
      };
    });
    expect(result.sameManager).toBe(true);
    expect(result.rootSeen.namespace).toBe('/');
    expect(result.chatSeen.namespace).toBe('/chat');
    expect(result.rootSeen.sid).toBe(result.root.id);
    expect(result.chatSeen.sid).toBe(result.chat.id);
    expect(result.chatSeen.sid).not.toBe(result.rootSeen.sid);
    // one Engine.IO connection carries both namespaces
    expect(result.chatSeen.eio_sid).toBe(result.rootSeen.eio_sid);
    expect(result.root.engineId).toBe(result.rootSeen.eio_sid);
  });

  test('the auth payload reaches the connect handler', async ({ harnessPage }) => {
    const auth = { token: 'abc123', user: { name: 'zoë', roles: ['a', 'b'] } };
    const seen = await harnessPage.evaluate(async (a) => {
      await harness.open('root', '/', { auth: a });
      await harness.open('chat', '/chat', { auth: { other: true } });
      return { root: (await harness.call('root', 'whoami'))[0].auth, chat: (await harness.call('chat', 'whoami'))[0].auth };
    }, auth);
    expect(seen.root).toEqual(auth);
    expect(seen.chat).toEqual({ other: true });
  });

  test('ConnectionRefusedError with data raises connect_error with that message and data', async ({ harnessPage, appConfig }) => {
    const refused = await harnessPage.evaluate(() => harness.openExpectingError('private', '/private', { auth: { token: 'wrong' } }));
    expect(refused).toEqual({
      connected: false,
      error: { message: 'not authorized', data: { code: 4001, hint: 'send a token' } },
    });
    // the right token gets in
    const [seen] = await harnessPage.evaluate(async (token) => {
      await harness.open('private2', '/private', { auth: { token }, forceNew: true });
      return harness.call('private2', 'whoami');
    }, appConfig.private_token);
    expect(seen.namespace).toBe('/private');
  });
});
