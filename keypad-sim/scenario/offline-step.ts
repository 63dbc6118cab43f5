import type { OfflineRequest } from '../../firmware/access/offline-issue.ts';
import type { Firmware } from '../../firmware/firmware.ts';
import { issueForLock } from '../../firmware/offline-path.ts';

export interface OfflineStep {
  kind: string;
  start: string;
  hours?: number | undefined;
  days?: number | undefined;
  days_of_week?: string[] | undefined;
  from?: string | undefined;
  to?: string | undefined;
  version?: 1 | 2 | undefined;
  variant?: number | undefined;
  check_in?: string | undefined;
  check_out?: string | undefined;
  weeks?: number | undefined;
}

/**
 * Issues an offline code for the lock under test, as the cloud would (its secret, its
 * current key version, its time zone, the issuer's clock = the lock's wall time).
 * Refused requests throw OfflineRequestError, which fails the step with its message.
 */
export function issueScenarioOfflineCode(firmware: Firmware, step: OfflineStep): string {
  const request: OfflineRequest = {
    kind: step.kind,
    start: step.start,
    ...(step.hours !== undefined ? { hours: step.hours } : {}),
    ...(step.days !== undefined ? { days: step.days } : {}),
    ...(step.days_of_week !== undefined ? { daysOfWeek: step.days_of_week } : {}),
    ...(step.from !== undefined ? { from: step.from } : {}),
    ...(step.to !== undefined ? { to: step.to } : {}),
    ...(step.version !== undefined ? { version: step.version } : {}),
    ...(step.variant !== undefined ? { variant: step.variant } : {}),
    ...(step.check_in !== undefined ? { checkIn: step.check_in } : {}),
    ...(step.check_out !== undefined ? { checkOut: step.check_out } : {}),
    ...(step.weeks !== undefined ? { weeks: step.weeks } : {}),
  };
  const issued = issueForLock(firmware, request, {
    timezone: firmware.manager.getSettings().timezone,
    now: firmware.manager.wallNow(),
    length: firmware.config.offlineCodeLength,
  });
  return issued.code;
}
