// The capabilities docs/deploy.md's `docker run` line grants are what the gateway and launcher
// need, no more and no fewer (issue 6: "the launcher holding only the capabilities it needs").
// Without a Docker engine, the container's capability set is reproduced with setpriv: the
// bounding set limited to exactly those capabilities, no_new_privs, started as root, as
// `--cap-drop ALL --cap-add ... --security-opt no-new-privileges` does. With the documented set
// a program runs; without any one of them, the gateway or its runs fail.
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
const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => fs.existsSync(p));
const skip = process.getuid() !== 0 ? 'needs root (the gateway starts the launcher as root)'
  : !setpriv ? 'setpriv (util-linux) is missing'
    : !fs.existsSync(gatewayBin) ? `${gatewayBin} is not built` : false;

// The documented capabilities, from the docker run line itself.
const deploy = fs.readFileSync(path.join(root, 'docs/deploy.md'), 'utf8');
const dockerRun = /```sh\n(docker run[^`]*?)\n```/.exec(deploy)[1];
const documented = [...dockerRun.matchAll(/--cap-add (\w+)/g)].map((m) => m[1]);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nospace-caps-'));
fs.chmodSync(tmp, 0o755);
const interpreter = path.join(tmp, 'fake-nospace20-caps');
if (!skip) {
  fs.copyFileSync(fakeBin, interpreter);
  fs.chmodSync(interpreter, 0o755);
}
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

// Starts the gateway with only `caps`, runs one program, stops it. Resolves with what happened.
async function runWith(caps) {
  const port = await freePort();
  const bounding = ['-all', ...caps.map((c) => '+' + c.toLowerCase())].join(',');
  const child = spawn(setpriv, ['--bounding-set', bounding, '--inh-caps', '-all', '--nnp',
    gatewayBin, '--policy', path.join(root, 'tests/policies/nospace-e2e.yaml')], {
    env: { ...process.env, PORT: String(port), NOSPACE_BIN_PATH: interpreter },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '', stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((r) => child.once('exit', (code) => r(code)));
  let waitListening, socket;
  const outcome = await new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ result: 'no answer' }), 8000);
    exited.then((code) => { clearTimeout(timer); resolve({ result: `gateway exited ${code}` }); });
    waitListening = setInterval(() => {
      if (!stdout.includes('"event":"listening"')) return;
      clearInterval(waitListening);
      socket = io(`http://127.0.0.1:${port}`, { transports: ['websocket'], reconnection: false });
      let out = '';
      socket.on('nospace_stdout', (p) => (out += p.data));
      socket.on('nospace_stderr', (p) => (out += p.data));
      socket.on('nospace_execution_status', (p) => {
        if (!['finished', 'error', 'killed'].includes(p.status)) return;
        clearTimeout(timer);
        resolve({ result: p.status, reason: p.reason, out });
        socket.close();
      });
      socket.on('connect', () => socket.emit('nospace_run', {
        code: 'print hello', options: { language: 'standard', inputMode: 'batch' }, stdinData: '' }));
      socket.on('disconnect', () => { clearTimeout(timer); resolve({ result: 'disconnected', out }); });
    }, 25);
  });
  // A gateway that exits before listening leaves the poll running: stop it, or this file's
  // process never ends.
  clearInterval(waitListening);
  socket?.close();
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
  child.kill('SIGKILL');
  return { ...outcome, stderr };
}

test('the documented capabilities are enough to run a program', { skip }, async () => {
  assert.ok(documented.length > 0, 'no --cap-add in the docker run line of docs/deploy.md');
  const r = await runWith(documented);
  assert.equal(r.result, 'finished', `with ${documented}: ${JSON.stringify(r)}`);
  assert.equal(r.out, 'hello\n');
});

for (const cap of documented) {
  test(`without ${cap} the gateway or its runs fail`, { skip }, async () => {
    const r = await runWith(documented.filter((c) => c !== cap));
    assert.notEqual(r.result, 'finished', `${cap} looks unneeded: ${JSON.stringify(r)}`);
  });
}
