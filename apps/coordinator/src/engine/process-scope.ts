import { readFileSync, readlinkSync } from 'node:fs';

/**
 * The kernel boot and PID namespace this process runs in (`<boot id>/<pid namespace>`), or null
 * where that cannot be read (not Linux, no /proc). Two coordinators with the same scope see the
 * same processes, so one can tell for certain that the other's process is gone; anywhere else
 * (another host, another container) only the heartbeat TTL can.
 */
export function processScope(): string | null {
  try {
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const namespace = readlinkSync('/proc/self/ns/pid');
    return boot && namespace ? `${boot}/${namespace}` : null;
  } catch {
    return null;
  }
}

/**
 * Whether process `pid` exists in this PID namespace. A pid reused by another process reads as
 * alive: the caller then waits for the heartbeat TTL as it would without this check.
 */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}
