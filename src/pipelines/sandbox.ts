// Sandbox mode: each step under bubblewrap (docs/runner.md "sandbox"). No network (its own empty network namespace),
// its own PID namespace (the sandbox dies with bwrap, so killing bwrap's group ends every process of the step),
// read-only system directories, a private /tmp, and the workspace as the only writable place. Not a VM or an
// enclave: it shares the host kernel.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

/** System directories visible read-only inside the sandbox (absent ones are skipped). Not /home, /root, /var, /srv. */
export const SANDBOX_READONLY_DIRS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/etc', '/opt'];

export const BWRAP = 'bwrap';

/** The bwrap argument vector that runs `sh -c command` with `workspace` writable. */
export function bwrapArgs(workspace: string, command: string, extraReadOnly: readonly string[] = []): string[] {
  const args = ['--unshare-net', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try', '--die-with-parent', '--new-session'];
  for (const d of [...SANDBOX_READONLY_DIRS, ...extraReadOnly]) args.push('--ro-bind-try', d, d);
  // /tmp is a fresh tmpfs before the workspace is bound, so a workspace under /tmp is still reachable inside.
  args.push('--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp', '--tmpfs', '/run');
  args.push('--bind', workspace, workspace, '--chdir', workspace);
  args.push('/bin/sh', '-c', command);
  return args;
}

let available: boolean | undefined;

/** bwrap present and able to create the namespaces we use here (checked once, by running `true` in a sandbox). */
export function sandboxAvailable(): boolean {
  if (available !== undefined) return available;
  try {
    const dir = fs.mkdtempSync('/tmp/proofstream-bwrap-probe-');
    try {
      const r = spawnSync(BWRAP, bwrapArgs(dir, 'true'), { stdio: 'ignore', timeout: 10_000, env: { PATH: '/usr/bin:/bin' } });
      available = r.status === 0;
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  } catch {
    available = false;
  }
  return available;
}
