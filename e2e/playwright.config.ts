/**
 * Playwright Test configuration for browser tests of a Flask-SocketIO app.
 *
 * Written by `python -m flask_socketio_testing.e2e init`; what is particular to your app lives in
 * socketio.json next to this file (app, python, cwd, namespace, auth, asyncMode).
 *
 * - webServer runs `python -m flask_socketio_testing.serve APP --port 0`: the app on a free port
 *   with the harness page mounted; the URL it prints reaches the tests as SOCKETIO_APP_URL.
 * - One project per socket.io-client version installed under node_modules (npm aliases in
 *   package.json); the page loads that build from node_modules (no CDN).
 * - Chromium is the system's (CHROMIUM_PATH, default /usr/bin/chromium): no browser download.
 * - HTML report in playwright-report/, traces and screenshots of failed tests in test-results/.
 *
 * Environment: CHROMIUM_PATH, SOCKETIO_PYTHON (overrides socketio.json's python), WORKERS.
 */
import { defineConfig } from '@playwright/test';
import fs from 'node:fs';
import path from 'node:path';
import type { SocketIOOptions } from './tests/socketio';

type Settings = {
  app: string;
  python: string;
  cwd: string;
  namespace: string;
  auth: unknown;
  asyncMode: 'gevent' | 'threading';
};

const settings: Settings = JSON.parse(fs.readFileSync(path.join(__dirname, 'socketio.json'), 'utf8'));
const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const nodeModules = path.join(__dirname, 'node_modules');

/** A relative path in socketio.json is relative to this folder; a bare name is looked up on PATH. */
function resolvePath(value: string): string {
  return value.includes('/') ? path.resolve(__dirname, value) : value;
}

/** Installed socket.io-client builds, newest first: [node_modules folder, version]. */
function clientPackages(): [string, string][] {
  const found = fs.existsSync(nodeModules)
    ? fs.readdirSync(nodeModules).filter((name) => name.startsWith('socket.io-client'))
    : [];
  if (!found.length) throw new Error(`no socket.io-client in ${nodeModules}: run "npm ci" in ${__dirname}`);
  const versions = found.map((name): [string, string] => [
    name,
    JSON.parse(fs.readFileSync(path.join(nodeModules, name, 'package.json'), 'utf8')).version,
  ]);
  const key = (v: string) => v.split('.').map((part) => part.padStart(6, '0')).join('.');
  return versions.sort((a, b) => key(b[1]).localeCompare(key(a[1])));
}

const python = resolvePath(process.env.SOCKETIO_PYTHON || settings.python);

export default defineConfig<SocketIOOptions>({
  testDir: './tests',
  timeout: 30_000,
  expect: { timeout: 5_000 },
  fullyParallel: true,
  forbidOnly: !!process.env.CI,
  retries: 0,
  workers: Number(process.env.WORKERS || 2),
  reporter: [['list'], ['html', { open: 'never', outputFolder: 'playwright-report' }]],
  outputDir: 'test-results',
  use: {
    browserName: 'chromium',
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    socketioNamespace: settings.namespace,
    socketioAuth: settings.auth,
    launchOptions: {
      executablePath: chromiumPath,
      // no internet on CI machines: keep Chromium from phoning home
      args: ['--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-dev-shm-usage'],
    },
  },
  projects: clientPackages().map(([pkg, version]) => ({
    name: `socket.io-client@${version}`,
    use: { clientPackage: pkg },
  })),
  webServer: {
    command: [
      `"${python}" -m flask_socketio_testing.serve "${settings.app}"`,
      `--port 0 --async-mode ${settings.asyncMode} --node-modules "${nodeModules}"`,
    ].join(' '),
    cwd: path.resolve(__dirname, settings.cwd),
    wait: { stdout: /(?<socketio_app_url>http:\/\/127\.0\.0\.1:\d+)/ },
    timeout: 30_000,
    reuseExistingServer: false,
    stdout: 'ignore',
    stderr: 'pipe',
    gracefulShutdown: { signal: 'SIGTERM', timeout: 3_000 },
  },
});
