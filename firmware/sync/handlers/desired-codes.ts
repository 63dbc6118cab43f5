import type { LinkContext } from '../context.ts';
import { applyDesiredCodes, INITIAL_SYNC } from '../desired.ts';
import { openSigned } from '../envelope.ts';
import { desiredCodesSchema } from '../messages.ts';

/**
 * desired/codes (retained, from the gateway): verify, apply atomically, report. A
 * document that does not verify changes nothing; the refusal goes into reported/codes
 * as `last_error` beside the last applied state.
 */
export async function onDesiredCodes(link: LinkContext, payload: Buffer): Promise<void> {
  if (payload.length === 0) return; // retained message cleared
  const { firmware } = link;
  const opened = openSigned(link.signingKey, 'desired_codes', link.deviceId, payload, desiredCodesSchema);
  const now = firmware.manager.wallNow();
  if (!opened.ok) {
    link.log.warn('desired/codes refused', { error: opened.error, message: opened.message });
    firmware.manager.record(
      'sync_rejected',
      { topic: 'desired/codes', error: opened.error, message: opened.message },
      now,
    );
    const sync = firmware.state.get('sync', INITIAL_SYNC);
    await link.publishSigned(
      link.topics.reportedCodes,
      'reported_codes',
      {
        ...(sync.reported ?? { revision: sync.appliedRevision, applied_at: null, codes: [] }),
        last_error: { error: opened.error, message: opened.message, at: new Date(now).toISOString() },
      },
      true,
    );
    return;
  }
  const outcome = applyDesiredCodes(
    {
      db: firmware.db,
      codes: firmware.codes,
      audit: firmware.audit,
      state: firmware.state,
      deviceId: link.deviceId,
      pinKey: link.pinKey,
      capacity: firmware.config.codeCapacity,
    },
    opened.value,
    now,
  );
  if (!outcome.applied) {
    link.log.debug('desired/codes already applied', {
      revision: opened.value.revision,
      applied: outcome.appliedRevision,
    });
    return;
  }
  link.log.info('desired/codes applied', {
    revision: outcome.report.revision,
    codes: outcome.report.codes.length,
  });
  await link.publishSigned(link.topics.reportedCodes, 'reported_codes', { ...outcome.report }, true);
  link.publishState();
}
