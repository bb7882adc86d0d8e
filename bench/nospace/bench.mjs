// bench/nospace: nospace-gateway (every run sandboxed) against the baseline (npm socket.io +
// child_process.spawn, no sandbox), through the real socket.io-client over WebSocket, same
// fixture interpreter, measured in one run:
//   - run latency: emit nospace_run -> final status, one client, a program printing one line
//   - runs per second with 4 and 16 concurrent clients
//   - output throughput: one program writing FLOOD_MB megabytes, emit -> final status
//   node bench.mjs BUILD_DIR
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { io } from 'socket.io-client';

const here = path.dirname(fileURLToPath(import.meta.url));
const build = path.resolve(process.argv[2] || path.join(here, '../../build'));
const fake = path.join(build, 'tests/fixtures/fake-nospace20');
const LATENCY_RUNS = Number(process.env.LATENCY_RUNS || 300);
const RATE_SECONDS = Number(process.env.RATE_SECONDS || 5);
const FLOOD_MB = Number(process.env.FLOOD_MB || 200);

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function start(cmd, args, env, ready) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      const port = ready(buf);
      if (port) {
        child.stdout.removeAllListeners('data');
        child.stdout.resume();
        resolve({ child, url: `http://127.0.0.1:${port}` });
      }
    });
    child.on('exit', (code) => reject(new Error(`${cmd} exited ${code}`)));
  });
}

async function startGateway() {
  const port = await freePort();
  return start(path.join(build, 'gateway/nospace-gateway'), ['--policy', path.join(here, 'policy.yaml')],
    { PORT: String(port), NOSPACE_BIN_PATH: fake }, (buf) => (buf.includes('"listening"') ? port : 0));
}

function startBaseline() {
  return start('node', [path.join(here, 'baseline.mjs'), fake], {}, (buf) => Number(/listening (\d+)/.exec(buf)?.[1] || 0));
}

async function client(url) {
  const s = io(url, { transports: ['websocket'], reconnection: false, forceNew: true });
  await new Promise((r) => s.on('connect', r));
  let pending = null;
  s.bytes = 0;
  s.on('nospace_stdout', (p) => (s.bytes += p.data.length));
  s.on('nospace_execution_status', (p) => {
    if (p.status !== 'running' && p.status !== 'compiling' && pending) {
      const done = pending;
      pending = null;
      done(p);
    }
  });
  s.runOnce = (code) => new Promise((resolve) => {
    pending = resolve;
    s.emit('nospace_run', { code, options: { language: 'standard', inputMode: 'batch' }, stdinData: '' });
  });
  return s;
}

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

async function measure(url) {
  const result = {};
  const c = await client(url);
  for (let i = 0; i < 20; ++i) await c.runOnce('print hello'); // warm-up
  const times = [];
  for (let i = 0; i < LATENCY_RUNS; ++i) {
    const t0 = performance.now();
    const status = await c.runOnce('print hello');
    times.push(performance.now() - t0);
    if (status.status !== 'finished') throw new Error(`run failed: ${JSON.stringify(status)}`);
  }
  times.sort((a, b) => a - b);
  result.p50 = pct(times, 50);
  result.p99 = pct(times, 99);

  for (const n of [4, 16]) {
    const clients = await Promise.all(Array.from({ length: n }, () => client(url)));
    let runs = 0;
    const end = performance.now() + RATE_SECONDS * 1000;
    const t0 = performance.now();
    await Promise.all(clients.map(async (k) => {
      while (performance.now() < end) {
        await k.runOnce('print hello');
        ++runs;
      }
    }));
    result[`rps${n}`] = runs / ((performance.now() - t0) / 1000);
    for (const k of clients) k.close();
  }

  const bytes = FLOOD_MB * 1000000;
  c.bytes = 0;
  const t0 = performance.now();
  const status = await c.runOnce(`flood ${bytes}`);
  const seconds = (performance.now() - t0) / 1000;
  if (c.bytes !== bytes) throw new Error(`flood: got ${c.bytes} of ${bytes} bytes (${JSON.stringify(status)})`);
  result.mbps = bytes / 1e6 / seconds;
  c.close();
  return result;
}

const rows = [];
for (const [name, starter] of [['nospace-gateway (sandboxed)', startGateway], ['baseline: socket.io + spawn (no sandbox)', startBaseline]]) {
  const server = await starter();
  try {
    rows.push([name, await measure(server.url)]);
  } finally {
    server.child.kill('SIGTERM');
  }
}
console.log(`| server | latency p50 | latency p99 | runs/s, 4 clients | runs/s, 16 clients | output MB/s (${FLOOD_MB} MB) |`);
console.log('| --- | --- | --- | --- | --- | --- |');
for (const [name, r] of rows)
  console.log(`| ${name} | ${r.p50.toFixed(2)} ms | ${r.p99.toFixed(2)} ms | ${r.rps4.toFixed(0)} | ${r.rps16.toFixed(0)} | ${r.mbps.toFixed(0)} |`);
process.exit(0);
