// The escape battery again, through the gateway: tests/hostile/hostile is the interpreter
// (NOSPACE_BIN_PATH), and the client picks the case only through the program text, as an
// attacker on the internet would (hostile reads "CASE ARGS" from the program's first line
// when started with the interpreter's command line). Each case must print no "escaped:" line
// and end with exactly one final status; the host must be unchanged afterwards. A control
// shows the same cases do escape when the binary runs without the sandbox.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { io } from 'socket.io-client';
import { freePort } from './lib.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const buildDir = process.env.NOSPACE_BUILD_DIR || path.join(root, 'build');
const hostile = path.join(buildDir, 'tests/hostile/hostile');
const token = `nospace-escape-${process.pid}`;
const hostFile = path.join(os.tmpdir(), token);

function hostileProcesses() {
  let n = 0;
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').startsWith(hostile + '\0')) ++n;
    } catch {}
  }
  return n;
}

let gw, socket;
const events = [];
before(async () => {
  const port = await freePort();
  const child = spawn(path.join(buildDir, 'gateway/nospace-gateway'), ['--policy', path.join(root, 'tests/policies/nospace-e2e.yaml')], {
    env: { ...process.env, PORT: String(port), NOSPACE_BIN_PATH: hostile, NOSPACE_TIMEOUT: '4000' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise((resolve, reject) => {
    child.on('exit', (c) => reject(new Error(`gateway exited ${c}`)));
    child.stdout.on('data', (d) => String(d).includes('"listening"') && resolve());
  });
  gw = { child, port, url: `http://127.0.0.1:${port}` };
  socket = io(gw.url, { reconnection: false, transports: ['websocket'] });
  for (const e of ['nospace_stdout', 'nospace_stderr', 'nospace_execution_status']) socket.on(e, (p) => events.push({ e, p }));
  await new Promise((r) => socket.on('connect', r));
});
after(() => {
  socket?.close();
  gw?.child.kill('SIGTERM');
  fs.rmSync(hostFile, { force: true });
});

async function attack(words) {
  const ack = await socket.timeout(5000).emitWithAck('nospace_run', { code: words.join(' ') + '\n', options: { language: 'standard' } });
  assert.ok(ack.sessionId, JSON.stringify(ack));
  const mine = () => events.filter((x) => x.p.sessionId === ack.sessionId);
  const end = Date.now() + 15000;
  while (!mine().some((x) => x.e === 'nospace_execution_status' && x.p.status !== 'running')) {
    assert.ok(Date.now() < end, `no final status for ${words.join(' ')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const statuses = mine().filter((x) => x.e === 'nospace_execution_status').map((x) => x.p);
  const stdout = mine().filter((x) => x.e === 'nospace_stdout').map((x) => x.p.data).join('');
  return { statuses, stdout, final: statuses[statuses.length - 1] };
}

// [case words, what may "escape" because it stays inside the sandbox (checked otherwise)].
const cases = [
  // /proc/1 is the program itself (pid 1 of its own pid namespace); host files are absent.
  [['readfile', '/etc/shadow', '/proc/1/environ', '/etc/hostname', '/root/.bash_history'], /^escaped: read \/proc\/1\/environ/],
  // /tmp is the run's private tmpfs: the host file is checked in the last test.
  [['writefile', hostFile, '/etc/pwned'], new RegExp(`^escaped: wrote ${hostFile}$`)],
  [['mount', '/tmp']],
  [['umount', '/proc']],
  [['pivot_root']],
  [['unshare']],
  [['setns', '/proc/self/ns/uts']],
  [['setuid']],
  [['keyctl']],
  [['bpf']],
  [['perf_event_open']],
  [['userfaultfd']],
  [['io_uring_setup']],
  [['rawsock']],
  [['reboot']],
  [['x32']],
  // kill(-1) reaches only its own pid namespace: the gateway surviving is checked below.
  [['killall'], /^escaped: kill\(-1\) delivered$/],
  [['forkbomb', '200']],
  [['membomb', '512']],
  [['daemon', token, '3000']],
];

test('without the sandbox the same binary escapes (the battery can fail)', () => {
  const plain = (args) => spawnSync(hostile, args, { encoding: 'utf8', timeout: 5000 }).stdout;
  assert.match(plain(['readfile', '/etc/hostname']), /^escaped: /m);
  assert.match(plain(['writefile', hostFile]), /^escaped: /m);
  assert.ok(fs.existsSync(hostFile));
  fs.rmSync(hostFile);
  // The same through the interpreter's command line, as the gateway starts it.
  const program = path.join(os.tmpdir(), `${token}.ns`);
  fs.writeFileSync(program, 'readfile /etc/hostname\n');
  assert.match(plain(['--std', 'standard', program]), /^escaped: /m);
  fs.rmSync(program);
});

for (const [words, contained] of cases) {
  test(`through the gateway: ${words.join(' ')}`, async () => {
    const r = await attack(words);
    const escapes = r.stdout.split('\n').filter((l) => l.startsWith('escaped:') && !contained?.test(l));
    assert.deepEqual(escapes, [], r.stdout);
    assert.match(r.stdout, /^try: /m, 'the case ran');
    assert.equal(r.statuses.filter((s) => s.status !== 'running').length, 1);
    assert.ok(['finished', 'error'].includes(r.final.status), JSON.stringify(r.final));
  });
}

test('the host is unchanged and nothing is left running', async () => {
  assert.ok(!fs.existsSync(hostFile), 'writefile reached the host');
  const end = Date.now() + 5000;
  while (hostileProcesses() > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  assert.equal(hostileProcesses(), 0);
  // The gateway survived killall and the rest, and still runs programs.
  assert.equal(gw.child.exitCode, null);
  const r = await attack(['readfile', '/etc/hostname']);
  assert.match(r.stdout, /^try: /m);
});
