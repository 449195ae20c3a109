// node_harness.mjs: start and stop a facerec-serve for a Node test (free loopback port, fresh
// gallery, an admin and a recognize key), like harness.py.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export function parseArgs(argv) {
  const args = {};
  for (let i = 2; i + 1 < argv.length; i += 2) args[argv[i].replace(/^--/, '')] = argv[i + 1];
  for (const need of ['serve', 'cli', 'models', 'tmp'])
    if (!args[need]) throw new Error(`usage: node ${argv[1]} --serve BIN --cli BIN --models DIR --tmp DIR`);
  return args;
}

export async function startServer(args, name, extra = []) {
  const dir = path.join(args.tmp, name);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const db = path.join(dir, 'gallery.db');
  const key = (role) => execFileSync(args.serve, ['keys', 'add', '--role', role, '--db', db],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  const adminKey = key('admin'), recognizeKey = key('recognize');
  const proc = spawn(args.serve, ['--db', db, '--listen', '127.0.0.1:0', '--models', args.models,
    '--model', 'mobilefacenet', '--no-flip', ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('facerec-serve did not start:\n' + log)), 60000);
    proc.stderr.on('data', (d) => {
      log += d;
      const m = log.match(/ on http:\/\/[^:]+:(\d+)\//);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    });
    proc.on('exit', (code) => reject(new Error(`facerec-serve exited (${code}):\n${log}`)));
  });
  return {
    dir, db, port, adminKey, recognizeKey, url: `http://127.0.0.1:${port}`,
    log: () => log,
    stop: () => new Promise((resolve, reject) => {
      proc.removeAllListeners('exit');
      proc.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`facerec-serve exited with ${code}:\n${log}`))));
      proc.kill('SIGTERM');
    }),
  };
}

// The faces of demo photo i, cut out by `facerec detect --crops`, as file paths in dir.
export function faceCrops(args, i, dir) {
  fs.mkdirSync(dir, { recursive: true });
  const photo = path.join(args.models, 'face-api', 'demo', `sample${i}.jpg`);
  execFileSync(args.cli, ['detect', '--crops', dir, photo], { stdio: 'ignore' });
  return fs.readdirSync(dir).filter((n) => n.startsWith(`sample${i}_`))
    .sort((a, b) => parseInt(a.split('_')[1]) - parseInt(b.split('_')[1]))
    .map((n) => path.join(dir, n));
}

export class Checks {
  constructor() { this.failures = 0; }
  check(cond, what) {
    console.log(`  ${cond ? 'ok  ' : 'FAIL'} ${what}`);
    if (!cond) this.failures++;
    return cond;
  }
}
