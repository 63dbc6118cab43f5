import type { LinkContext } from '../context.ts';

/**
 * Home Assistant's command topic. HA cannot sign, so its commands follow the remote
 * operation rules: LOCK always; UNLOCK/OPEN only when allowUnlock is configured and the
 * lock is in normal or passage mode. Every refusal is audited.
 */
export async function onHomeAssistantSet(link: LinkContext, payload: Buffer): Promise<void> {
  const { manager } = link.firmware;
  const command = payload.toString('utf8').trim().slice(0, 16);
  if (command === 'LOCK') {
    await manager.actuate('locked', 'home_assistant');
    return;
  }
  if (command === 'UNLOCK' || command === 'OPEN') {
    const mode = manager.status().mode;
    const reason = !link.options.homeAssistant.allowUnlock
      ? 'remote unlock from Home Assistant is not enabled (homeAssistant.allowUnlock)'
      : mode === 'vacation' || mode === 'privacy'
        ? `remote unlock is not allowed in ${mode} mode`
        : undefined;
    if (reason) {
      manager.record('remote_refused', { by: 'home_assistant', command, reason }, manager.wallNow());
      link.log.warn('home assistant unlock refused', { reason });
      return;
    }
    await manager.actuate('unlocked', 'home_assistant');
    return;
  }
  link.log.warn('home assistant command not understood', { length: payload.length });
}
