import type { LinkContext } from '../context.ts';
import { applyDesiredCodes, INITIAL_SYNC } from '../desired.ts';
import { openSigned } from '../envelope.ts';
import { desiredCodesSchema } from '../messages.ts';

/**
 * desired/codes (retained, from the gateway): verify, apply atomically, report. A
 * document that does not verify, or whose revision is below the applied one, changes
 * nothing; the refusal goes into reported/codes as `last_error` beside the last
 * applied state, and is audited (coalesced) as `sync_rejected`.
 */
export async function onDesiredCodes(link: LinkContext, payload: Buffer): Promise<void> {
  if (payload.length === 0) return; // retained message cleared
  const { firmware } = link;
  const opened = openSigned(link.signingKey, 'desired_codes', link.deviceId, payload, desiredCodesSchema);
  const now = firmware.manager.wallNow();
  const refuse = async (error: string, message: string) => {
    link.reject('desired/codes', error, message);
    const sync = firmware.state.get('sync', INITIAL_SYNC);
    await link.publishSigned(
      link.topics.reportedCodes,
      'reported_codes',
      {
        ...(sync.reported ?? { revision: sync.appliedRevision, applied_at: null, codes: [] }),
        last_error: { error, message, at: new Date(now).toISOString() },
      },
      true,
    );
  };
  if (!opened.ok) {
    await refuse(opened.error, opened.message);
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
      timezone: firmware.manager.getSettings().timezone,
    },
    opened.value,
    now,
  );
  if (!outcome.applied) {
    // The applied revision itself comes back at every reconnect (it is retained): not an error.
    if (opened.value.revision < outcome.appliedRevision) {
      await refuse(
        'stale_revision',
        `revision ${opened.value.revision} is below the applied revision ${outcome.appliedRevision}`,
      );
    }
    return;
  }
  link.log.info('desired/codes applied', {
    revision: outcome.report.revision,
    codes: outcome.report.codes.length,
  });
  await link.publishSigned(link.topics.reportedCodes, 'reported_codes', { ...outcome.report }, true);
  link.publishState();
}
