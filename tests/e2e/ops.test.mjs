// Operations end to end (issue 6): the real nospace-gateway (and its launcher) with the fixture
// interpreter: /healthz, /readyz (ready, at capacity), /metrics after real runs, static files
// (types, HEAD, no traversal on the raw wire), and the graceful shutdown on SIGTERM (notice on
// stderr, runs that finish in time finish, the rest are killed at drain_ms, exit 0, no process
// left on the host).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { io } from 'socket.io-client';
import { freePort } from './lib.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const buildDir = process.env.NOSPACE_BUILD_DIR || path.join(root, 'build');
const gatewayBin = path.join(buildDir, 'gateway/nospace-gateway');
const fakeBin = path.join(buildDir, 'tests/fixtures/fake-nospace20');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const skip = !fs.existsSync(gatewayBin) ? `${gatewayBin} is not built`
  : !fs.existsSync(fakeBin) ? `${fakeBin} is not built` : false;

// A private copy of the interpreter (so "no process left" can look for exactly it), a front end
// to serve, a secret next to it, and the policy.
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nospace-ops-'));
fs.chmodSync(tmp, 0o755);
const interpreter = path.join(tmp, 'fake-nospace20-ops');
if (!skip) {
  fs.copyFileSync(fakeBin, interpreter);
  fs.chmodSync(interpreter, 0o755);
}
const www = path.join(tmp, 'www');
fs.mkdirSync(path.join(www, 'js'), { recursive: true });
fs.writeFileSync(path.join(www, 'index.html'), '<!doctype html><title>nospace</title>');
fs.writeFileSync(path.join(www, 'js', 'app.js'), 'console.log("nospace");');
fs.writeFileSync(path.join(www, '.env'), 'SECRET=1');
fs.writeFileSync(path.join(tmp, 'secret.txt'), 'not for the internet');
for (const f of [tmp, www, path.join(www, 'js')]) fs.chmodSync(f, 0o755);

function writePolicy(name, extra = '') {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, `server:
  listen: 127.0.0.1
  static_dir: ${www}
  drain_ms: 1500
limits:
  max_connections_per_ip: 1000
  max_concurrent_runs: 2
  max_runs_per_ip: 64
  runs_per_minute_per_ip: 100000
${extra}`);
  return file;
}

const gateways = [];
async function startGateway(policy) {
  const port = await freePort();
  const child = spawn(gatewayBin, ['--policy', policy], {
    env: { ...process.env, PORT: String(port), NOSPACE_BIN_PATH: interpreter },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const gw = { port, url: `http://127.0.0.1:${port}`, child, logs: [], stderr: '' };
  gw.exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
  gateways.push(gw);
  child.stderr.on('data', (d) => (gw.stderr += d));
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start: ${gw.stderr}`)), 15000);
    child.once('exit', (code) => reject(new Error(`gateway exited ${code}: ${gw.stderr}`)));
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = JSON.parse(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        gw.logs.push(line);
        if (line.event === 'listening') {
          clearTimeout(timer);
          resolve();
        }
      }
    });
  });
  return gw;
}

// One raw HTTP/1.1 exchange, exactly as written (no client-side path normalisation).
function raw(port, requestText) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let data = '';
    sock.setTimeout(5000, () => sock.destroy(new Error('raw request timed out')));
    sock.on('data', (d) => (data += d.toString('latin1')));
    sock.on('error', reject);
    sock.on('close', () => {
      const [head, ...rest] = data.split('\r\n\r\n');
      const lines = head.split('\r\n');
      const status = Number(lines[0].split(' ')[1]);
      const headers = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      resolve({ status, headers, body: rest.join('\r\n\r\n') });
    });
    sock.end(requestText);
  });
}
const get = (gw, target, method = 'GET') =>
  raw(gw.port, `${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);

function metricValue(text, series) {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const clients = [];
function connect(gw) {
  const socket = io(gw.url, { reconnection: false, forceNew: true, transports: ['websocket'] });
  clients.push(socket);
  return socket;
}

// Starts a run; resolves with its sessionId once it is running, and collects its events.
async function run(socket, code) {
  const events = [];
  let sessionId;
  const handler = (event) => (p) => {
    if (!sessionId || p.sessionId === sessionId) events.push({ event, ...p });
  };
  for (const e of ['nospace_stdout', 'nospace_stderr', 'nospace_execution_status'])
    socket.on(e, handler(e));
  socket.emit('nospace_run', { code, options: { language: 'standard', inputMode: 'batch' }, stdinData: '' });
  for (let i = 0; i < 200 && !sessionId; ++i) {
    const running = events.find((e) => e.event === 'nospace_execution_status' && e.status === 'running');
    if (running) sessionId = running.sessionId;
    else await sleep(25);
  }
  assert.ok(sessionId, `the run did not start: ${JSON.stringify(events)}`);
  const final = async (ms = 10000) => {
    for (let waited = 0; waited < ms; waited += 25) {
      const f = events.find((e) => e.event === 'nospace_execution_status' &&
        ['finished', 'error', 'killed'].includes(e.status));
      if (f) return f;
      await sleep(25);
    }
    throw new Error(`no final status: ${JSON.stringify(events)}`);
  };
  return { sessionId, events, final, text: (ev) => events.filter((e) => e.event === ev).map((e) => e.data).join('') };
}

// Processes on the host running our private interpreter copy.
function interpreterProcesses() {
  const found = [];
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (fs.readlinkSync(`/proc/${pid}/exe`) === interpreter) found.push(pid);
    } catch { /* gone or not ours to read */ }
  }
  return found;
}

after(async () => {
  for (const c of clients) c.close();
  for (const g of gateways) g.child.kill('SIGKILL');
  await sleep(100);
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('healthz, readyz and metrics answer; HEAD has no body; other methods 405', { skip }, async () => {
  const gw = await startGateway(writePolicy('basic.yaml'));
  const health = await get(gw, '/healthz');
  assert.equal(health.status, 200);
  assert.equal(health.body, 'ok\n');
  assert.equal(health.headers.connection, 'close');
  const ready = await get(gw, '/readyz');
  assert.equal(ready.status, 200, ready.body);
  assert.equal(ready.body, 'ready\n');
  const metrics = await get(gw, '/metrics');
  assert.equal(metrics.status, 200);
  assert.match(metrics.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  assert.equal(metricValue(metrics.body, 'nospace_connections'), 0);
  assert.match(metrics.body, /^# TYPE nospace_run_duration_seconds histogram$/m);
  const head = await get(gw, '/metrics', 'HEAD');
  assert.equal(head.status, 200);
  assert.equal(head.body, '');
  const post = await get(gw, '/healthz', 'POST');
  assert.equal(post.status, 405);
  assert.equal((await get(gw, '/no-such-thing')).status, 404);
  gw.child.kill('SIGTERM');
  assert.deepEqual(await gw.exited, { code: 0, signal: null });
});

test('static files: types, index, HEAD, and nothing outside the folder', { skip }, async () => {
  const gw = await startGateway(writePolicy('static.yaml'));
  const index = await get(gw, '/');
  assert.equal(index.status, 200);
  assert.equal(index.headers['content-type'], 'text/html; charset=utf-8');
  assert.equal(index.body, '<!doctype html><title>nospace</title>');
  const js = await get(gw, '/js/app.js?v=1');
  assert.equal(js.status, 200);
  assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
  assert.equal(js.body, 'console.log("nospace");');
  const head = await get(gw, '/js/app.js', 'HEAD');
  assert.equal(head.status, 200);
  assert.equal(head.body, '');
  // The secret exists one level up; none of these may reach it.
  for (const target of ['/../secret.txt', '/js/../../secret.txt', '/%2e%2e/secret.txt',
    '/js/%2E%2E/%2e%2e/secret.txt', '/.env', '/js/', '/js']) {
    const r = await get(gw, target);
    assert.notEqual(r.status, 200, `${target} answered 200: ${r.body}`);
    assert.ok(!r.body.includes('not for the internet') && !r.body.includes('SECRET'), target);
  }
  // The Socket.IO path still belongs to Engine.IO.
  const handshake = await get(gw, '/socket.io/?EIO=4&transport=polling');
  assert.equal(handshake.status, 200);
  assert.match(handshake.body, /^0\{.*"sid":"/);
  gw.child.kill('SIGTERM');
  assert.equal((await gw.exited).code, 0);
});

test('metrics count connections, runs by status and reason, bytes and refusals', { skip }, async () => {
  const gw = await startGateway(writePolicy('metrics.yaml'));
  const socket = connect(gw);
  await new Promise((r) => socket.once('connect', r));
  const ok = await run(socket, 'print hello\nprint world');
  assert.equal((await ok.final()).status, 'finished');
  const bad = await run(socket, 'eprint oops\nexit 3');
  assert.equal((await bad.final()).status, 'error');
  socket.emit('nospace_run', { code: 'print x', options: { language: 'klingon' } });
  await sleep(300);
  const m = (await get(gw, '/metrics')).body;
  assert.equal(metricValue(m, 'nospace_connections'), 1);
  assert.equal(metricValue(m, 'nospace_connections_total'), 1);
  assert.equal(metricValue(m, 'nospace_sessions'), 0);
  assert.equal(metricValue(m, 'nospace_sandboxes_running'), 0);
  assert.equal(metricValue(m, 'nospace_runs_total{reason="exited",status="finished"}'), 1);
  assert.equal(metricValue(m, 'nospace_runs_total{reason="exited",status="error"}'), 1);
  assert.equal(metricValue(m, 'nospace_run_duration_seconds_count'), 2);
  assert.equal(metricValue(m, 'nospace_streamed_bytes_total{stream="stdout"}'), 12);
  assert.equal(metricValue(m, 'nospace_streamed_bytes_total{stream="stderr"}'), 5);
  assert.equal(metricValue(m, 'nospace_refusals_total{limit="invalid-request"}'), 1);
  socket.close();
  await sleep(200);
  assert.equal(metricValue((await get(gw, '/metrics')).body, 'nospace_connections'), 0);
  gw.child.kill('SIGTERM');
  assert.equal((await gw.exited).code, 0);
});

test('readyz says 503 at capacity and recovers', { skip }, async () => {
  const gw = await startGateway(writePolicy('capacity.yaml'));
  const a = connect(gw);
  const b = connect(gw);
  await Promise.all([a, b].map((s) => new Promise((r) => s.once('connect', r))));
  const ra = await run(a, 'sleep 10000');
  const rb = await run(b, 'sleep 10000');
  const full = await get(gw, '/readyz');
  assert.equal(full.status, 503);
  assert.equal(full.body, 'at capacity: 2 of 2 sandboxes running\n');
  assert.equal(metricValue((await get(gw, '/metrics')).body, 'nospace_sandboxes_running'), 2);
  a.emit('nospace_kill', { sessionId: ra.sessionId });
  b.emit('nospace_kill', { sessionId: rb.sessionId });
  await ra.final();
  await rb.final();
  for (let i = 0; i < 40 && (await get(gw, '/readyz')).status !== 200; ++i) await sleep(50);
  assert.equal((await get(gw, '/readyz')).status, 200);
  gw.child.kill('SIGTERM');
  assert.equal((await gw.exited).code, 0);
});

test('SIGTERM drains: notice, short runs finish, long runs killed at drain_ms, exit 0, nothing left', { skip }, async () => {
  const gw = await startGateway(writePolicy('drain.yaml'));
  const short = connect(gw);
  const long = connect(gw);
  await Promise.all([short, long].map((s) => new Promise((r) => s.once('connect', r))));
  const quick = await run(short, 'sleep 400\nprint done in time');
  const slow = await run(long, 'sleep 30000\nprint never');
  assert.equal(interpreterProcesses().length, 2, 'both programs should be running');

  const start = performance.now();
  gw.child.kill('SIGTERM');
  // The run that ends within drain_ms (1.5 s) finishes normally, output and all.
  assert.equal((await quick.final()).status, 'finished');
  assert.equal(quick.text('nospace_stdout'), 'done in time\n');
  assert.match(quick.text('nospace_stderr'), /shutting down/);
  assert.match(slow.text('nospace_stderr'), /shutting down/);
  // The long one is stopped at the deadline and the gateway exits 0.
  const exit = await gw.exited;
  const took = performance.now() - start;
  assert.deepEqual(exit, { code: 0, signal: null });
  assert.ok(took >= 1400, `exited after ${took} ms, before drain_ms`);
  assert.ok(took < 8000, `exited after ${took} ms`);
  assert.equal(slow.text('nospace_stdout'), '');
  // No interpreter and no launcher left on the host.
  for (let i = 0; i < 40 && interpreterProcesses().length; ++i) await sleep(50);
  assert.deepEqual(interpreterProcesses(), []);
  const events = gw.logs.map((l) => l.event);
  assert.ok(events.includes('drain-start') && events.includes('drain-kill') && events.includes('drain-done'),
    `drain log lines missing: ${events}`);
  // New connections are refused once the drain began (the port is closed).
  await assert.rejects(get(gw, '/healthz'));
});
