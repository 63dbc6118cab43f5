import { closeSync, fchmodSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Writes `text` to `path` with mode 0600 whatever the umask, atomically and durably:
 * a temporary file, fsync, rename, fsync the directory. A power cut leaves the old
 * file or the new one, never half of either. For files that hold secrets.
 */
export function writeFileDurably(path: string, text: string): void {
  const tmp = `${path}.tmp`;
  // A stale temporary file keeps its own mode, and a symlink there would be followed:
  // always a new file ('wx' does not follow links), narrowed whatever the umask gave it.
  rmSync(tmp, { force: true });
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    fchmodSync(fd, 0o600);
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const dirFd = openSync(dirname(path), 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}
