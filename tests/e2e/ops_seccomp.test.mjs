// containers/seccomp.json must allow every syscall the gateway, the launcher and a sandboxed
// run make (the container's profile applies to all of them): the real gateway runs under
// strace -f while a client runs, compiles and kills programs; every syscall name in the trace
// must be allowed by the profile. This is how open_tree/move_mount/mount_setattr (the
// launcher's read-only binds) were found missing from a profile written from the design alone.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { io } from 'socket.io-client';
import { freePort } from './lib.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const buildDir = process.env.NOSPACE_BUILD_DIR || path.join(root, 'build');
const gatewayBin = path.join(buildDir, 'gateway/nospace-gateway');
const fakeBin = path.join(buildDir, 'tests/fixtures/fake-nospace20');
const strace = ['/usr/bin/strace', '/bin/strace'].find((p) => fs.existsSync(p));
const skip = !strace ? 'strace is not installed'
  : process.getuid() !== 0 ? 'needs root (the gateway starts the launcher as root)'
    : !fs.existsSync(gatewayBin) ? `${gatewayBin} is not built` : false;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nospace-strace-'));
fs.chmodSync(tmp, 0o755);
// Killed at the end whatever happened: a tracer that dies leaves its tracees running.
const started = [];
after(() => {
  for (const pid of started) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
  }
  fs.rmSync(tmp, { recursive: true, force: true });
});
// strace's first child is the gateway; 0 when there is none (never passed to kill).
function gatewayOf(stracePid) {
  try {
    const pid = Number(fs.readFileSync(`/proc/${stracePid}/task/${stracePid}/children`, 'utf8')
      .trim().split(' ')[0]);
    return Number.isInteger(pid) && pid > 1 ? pid : 0;
  } catch {
    return 0;
  }
}

function allowedByProfile() {
  const profile = JSON.parse(fs.readFileSync(path.join(root, 'containers/seccomp.json'), 'utf8'));
  const allowed = new Set();
  for (const rule of profile.syscalls)
    if (rule.action === 'SCMP_ACT_ALLOW') for (const n of rule.names) allowed.add(n);
  return allowed;
}

test('every syscall of gateway, launcher and runs is in containers/seccomp.json', { skip }, async () => {
  const interpreter = path.join(tmp, 'fake-nospace20-strace');
  fs.copyFileSync(fakeBin, interpreter);
  fs.chmodSync(interpreter, 0o755);
  const port = await freePort();
  const trace = path.join(tmp, 'trace');
  const child = spawn(strace, ['-f', '-ff', '-qq', '-o', trace, gatewayBin,
    '--policy', path.join(root, 'tests/policies/nospace-e2e.yaml')], {
    env: { ...process.env, PORT: String(port), NOSPACE_BIN_PATH: interpreter },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise((r) => child.once('exit', (code) => r(code)));
  let stdout = '';
  child.stdout.on('data', (d) => (stdout += d));
  // Tracing slows everything down, more so on a loaded machine: wait up to 60 s.
  for (let i = 0; i < 2400 && !stdout.includes('"event":"listening"'); ++i) await sleep(25);
  const gatewayPid = gatewayOf(child.pid);
  started.push(...[gatewayPid, child.pid].filter((pid) => pid > 1));
  assert.ok(gatewayPid > 1, 'no gateway process under strace');
  assert.match(stdout, /"event":"listening"/);

  const socket = io(`http://127.0.0.1:${port}`, { transports: ['polling', 'websocket'], reconnection: false });
  await new Promise((r) => socket.once('connect', r));
  const finals = [];
  socket.on('nospace_execution_status', (p) => {
    if (['finished', 'error', 'killed'].includes(p.status)) finals.push(p);
  });
  const until = async (n) => {
    for (let i = 0; i < 1200 && finals.length < n; ++i) await sleep(25);
    assert.equal(finals.length, n, JSON.stringify(finals));
  };
  socket.emit('nospace_run', { code: 'print hi\nprompt name?', options: { language: 'standard', inputMode: 'batch' }, stdinData: 'x' });
  await until(1);
  socket.emit('nospace_compile', { code: 'print hi', options: { language: 'standard', target: 'ws' } });
  await until(2);
  socket.emit('nospace_run', { code: 'sleep 20000', options: { language: 'standard', inputMode: 'interactive' } });
  await sleep(500);
  const running = finals.length;
  socket.emit('nospace_kill', { sessionId: 'unused' }); // refused: not this socket's session
  socket.disconnect(); // kills the sleeping run
  await sleep(500);
  assert.equal(running, 2);
  // SIGTERM to the gateway itself (strace's child): it drains and exits, then strace does.
  process.kill(gatewayPid, 'SIGTERM');
  let timer;
  const code = await Promise.race([exited,
    new Promise((r) => { timer = setTimeout(() => r('timeout'), 30000); })]);
  clearTimeout(timer);
  assert.equal(code, 0, 'the traced gateway did not exit 0 after SIGTERM');

  const allowed = allowedByProfile();
  const used = new Map();
  for (const f of fs.readdirSync(tmp).filter((n) => n.startsWith('trace.'))) {
    for (const line of fs.readFileSync(path.join(tmp, f), 'utf8').split('\n')) {
      const m = /^([a-z0-9_]+)\(/.exec(line);
      if (m && !used.has(m[1])) used.set(m[1], f);
    }
  }
  for (const expected of ['execve', 'pivot_root', 'seccomp'])
    assert.ok(used.has(expected), `the trace lacks ${expected}: ${[...used.keys()]}`);
  const missing = [...used.keys()].filter((n) => !allowed.has(n)).sort();
  assert.deepEqual(missing, [], `used but not allowed by containers/seccomp.json: ${missing}`);
});
