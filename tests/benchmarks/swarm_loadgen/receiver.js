// A Node socket.io-client receiver for the swarm benchmark: the yardstick the Python swarm is
// compared with. It connects N websocket clients, counts every stamped arrival of one event, and
// reports on stdout as JSON lines:
//   READY {"connected": n, "failed": f, "connect_s": s, "rss": bytes}   once every client tried
//   DONE  {"deliveries": d, "duplicates": k, "first": ms, "last": ms, "p50_ms": x, ...}
// DONE is printed when --expect deliveries arrived or --timeout seconds passed since READY.
// Usage: node receiver.js --url http://127.0.0.1:PORT --clients 3000 --expect 60000
"use strict";
const { io } = require("socket.io-client");

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}
const url = option("url");
const size = Number(option("clients", "100"));
const expected = Number(option("expect", "0"));
const event = option("event", "news");
const concurrency = Number(option("concurrency", "100"));
const timeout = Number(option("timeout", "120")) * 1000;

// the stamp the Python ledger puts under "_ledger", found at any depth (as find_stamp does)
function findStamp(value, depth) {
  if (depth > 8 || value === null || typeof value !== "object") return null;
  const stamp = value._ledger;
  if (stamp && typeof stamp === "object" && "id" in stamp && "sent" in stamp) return stamp;
  for (const key of Object.keys(value)) {
    const found = findStamp(value[key], depth + 1);
    if (found) return found;
  }
  return null;
}

const sockets = [];
const latencies = [];
const seen = new Set();
let deliveries = 0;
let duplicates = 0;
let first = null;
let last = null;
let finished = false;

function onArrival(clientIndex, args) {
  const now = Date.now();
  const stamp = findStamp(args, 0);
  if (!stamp) return;
  const key = `${clientIndex}/${stamp.id}`;
  if (seen.has(key)) {
    duplicates += 1;
    return;
  }
  seen.add(key);
  deliveries += 1;
  if (first === null) first = now;
  last = now;
  latencies.push(now - stamp.sent * 1000);
  if (expected && deliveries >= expected) finish();
}

function percentile(sorted, q) {
  if (!sorted.length) return null;
  const pos = ((sorted.length - 1) * q) / 100;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

function finish() {
  if (finished) return;
  finished = true;
  latencies.sort((a, b) => a - b);
  const result = {
    deliveries,
    duplicates,
    first,
    last,
    p50_ms: percentile(latencies, 50),
    p99_ms: percentile(latencies, 99),
    max_ms: latencies.length ? latencies[latencies.length - 1] : null,
  };
  process.stdout.write(`DONE ${JSON.stringify(result)}\n`);
  for (const socket of sockets) socket.close();
  setTimeout(() => process.exit(0), 200);
}

function connectOne(index) {
  return new Promise((resolve) => {
    const socket = io(url, { transports: ["websocket"], forceNew: true, reconnection: false });
    sockets.push(socket);
    socket.on(event, (...args) => onArrival(index, args));
    socket.once("connect", () => resolve(true));
    socket.once("connect_error", () => resolve(false));
  });
}

async function main() {
  const start = Date.now();
  let next = 0;
  let connected = 0;
  async function worker() {
    while (next < size) {
      const index = next++;
      if (await connectOne(index)) connected += 1;
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, size) }, worker));
  const ready = {
    connected,
    failed: size - connected,
    connect_s: (Date.now() - start) / 1000,
    rss: process.memoryUsage().rss,
  };
  process.stdout.write(`READY ${JSON.stringify(ready)}\n`);
  setTimeout(finish, timeout);
}

process.on("SIGTERM", finish);
main();
