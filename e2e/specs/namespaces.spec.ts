import { test, expect } from './fixtures';

test.describe('namespaces', () => {
  test('/ and /chat multiplexed on one connection', async ({ client }) => {
    const result = await client.evaluate(async () => {
      const root = await h.open('root', '/');
      const chat = await h.open('chat', '/chat');
      const [rootSeen] = await h.call('root', 'whoami');
      const [chatSeen] = await h.call('chat', 'whoami');
      return {
        sameManager: h.sockets.root.io === h.sockets.chat.io,
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

  test('the auth payload reaches the connect handler', async ({ client }) => {
    const auth = { token: 'abc123', user: { name: 'zoë', roles: ['a', 'b'] } };
    const seen = await client.evaluate(async (a) => {
      await h.open('root', '/', { auth: a });
      await h.open('chat', '/chat', { auth: { other: true } });
      return { root: (await h.call('root', 'whoami'))[0].auth, chat: (await h.call('chat', 'whoami'))[0].auth };
    }, auth);
    expect(seen.root).toEqual(auth);
    expect(seen.chat).toEqual({ other: true });
  });

  test('ConnectionRefusedError with data raises connect_error with that message and data', async ({ client, appConfig }) => {
    const refused = await client.evaluate(() => h.openExpectingError('private', '/private', { auth: { token: 'wrong' } }));
    expect(refused).toEqual({
      connected: false,
      error: { message: 'not authorized', data: { code: 4001, hint: 'send a token' } },
    });
    // the right token gets in
    const [seen] = await client.evaluate(async (token) => {
      await h.open('private2', '/private', { auth: { token }, forceNew: true });
      return h.call('private2', 'whoami');
    }, appConfig.private_token);
    expect(seen.namespace).toBe('/private');
  });
});
