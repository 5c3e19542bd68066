import { test, expect, TRANSPORTS } from './fixtures';

for (const label of ['websocket', 'polling'] as const) {
  test(`a user logged in through an HTTP route is seen by Socket.IO handlers (${label})`, async ({ harnessPage }) => {
    const user = `user-${Math.random().toString(36).slice(2)}`;
    const status = await harnessPage.evaluate(async (u) => {
      const r = await fetch('/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ user: u }) });
      return r.status;
    }, user);
    expect(status).toBe(200);
    const cookies = await harnessPage.context().cookies();
    expect(cookies.map((c) => c.name)).toContain('session');

    const [seen] = await harnessPage.evaluate(async (o) => {
      await harness.open('main', '/', o);
      return harness.call('main', 'whoami');
    }, TRANSPORTS[label]);
    expect(seen.user).toBe(user);
  });
}

test('without the login the handler sees no user', async ({ harnessPage }) => {
  const [seen] = await harnessPage.evaluate(async () => {
    await harness.open('main', '/');
    return harness.call('main', 'whoami');
  });
  expect(seen.user).toBeNull();
});
