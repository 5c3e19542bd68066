/**
 * Playwright Test configuration for the Flask-SocketIO browser end-to-end suite.
 *
 * One project per socket.io-client version (installed side by side under npm aliases, see
 * package.json). Chromium is Debian's (no browser download is possible here): set
 * CHROMIUM_PATH to use another build. The e2e app (app.py) runs with gevent on a port the
 * kernel picks; it prints E2E_APP_PORT=<port>, which Playwright exports to the workers.
 *
 * Environment:
 *   CHROMIUM_PATH  Chromium/Chrome executable (default /usr/bin/chromium)
 *   E2E_PYTHON     Python that runs app.py (default ../.venv/bin/python, the repo's venv)
 *   E2E_WORKERS    parallel workers (default 2)
 */
import { defineConfig } from '@playwright/test';
import fs from 'node:fs';
import path from 'node:path';
import type { ClientOptions } from './specs/fixtures';

const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const python = process.env.E2E_PYTHON || path.resolve(__dirname, '..', '.venv', 'bin', 'python');

/** node_modules folders of the socket.io-client builds under test (newest first). */
const clientPackages = [
  'socket.io-client',
  'socket.io-client-4.4',
  'socket.io-client-4.0',
  'socket.io-client-3.1',
];

function installedVersion(pkg: string): string {
  const file = path.join(__dirname, 'node_modules', pkg, 'package.json');
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')).version;
  } catch {
    throw new Error(`${pkg} is not installed: run "npm ci" in ${__dirname}`);
  }
}

export default defineConfig<ClientOptions>({
  testDir: './specs',
  timeout: 30_000,
  expect: { timeout: 5_000 },
  fullyParallel: true,
  forbidOnly: !!process.env.CI,
  retries: 0,
  workers: Number(process.env.E2E_WORKERS || 2),
  reporter: [['list'], ['html', { open: 'never', outputFolder: 'playwright-report' }]],
  outputDir: 'test-results',
  use: {
    browserName: 'chromium',
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: chromiumPath,
      // the machines have no internet: keep Chromium from phoning home
      args: [
        '--disable-background-networking',
        '--disable-component-update',
        '--no-first-run',
        '--no-default-browser-check',
        '--disable-dev-shm-usage',
      ],
    },
  },
  projects: clientPackages.map((pkg) => ({
    name: `socket.io-client@${installedVersion(pkg)}`,
    use: { clientPackage: pkg },
  })),
  webServer: {
    command: `"${python}" app.py`,
    cwd: __dirname,
    wait: { stdout: /E2E_APP_PORT=(?<e2e_app_port>\d+)/ },
    timeout: 30_000,
    reuseExistingServer: false,
    stdout: 'ignore',
    stderr: 'pipe',
    gracefulShutdown: { signal: 'SIGTERM', timeout: 3_000 },
  },
});
