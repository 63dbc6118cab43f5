import type { RemoteTarget } from '../../access/remote.ts';
import type { LinkContext } from '../context.ts';

const TARGETS: Record<string, RemoteTarget> = { LOCK: 'locked', UNLOCK: 'unlocked' };

/**
 * Home Assistant's command topic: `LOCK` or `UNLOCK`, forwarded to the lock manager,
 * which judges it by the remote rule (firmware/access/remote.ts) and audits it. Home
 * Assistant cannot see a refusal in a state that does not change, so each refusal is
 * published, retained, as the entity's `last_refusal` attribute on `ha/attributes`.
 */
export async function onHomeAssistantSet(link: LinkContext, payload: Buffer): Promise<void> {
  const { manager } = link.firmware;
  const text = payload.toString('utf8').trim();
  const target = Object.hasOwn(TARGETS, text) ? TARGETS[text] : undefined;
  const refused = (command: string | null, error: string, message: string) => {
    link.log.warn('home assistant command refused', { error });
    const lastRefusal = { command, error, message, at: new Date(manager.wallNow()).toISOString() };
    return link.publishPlain(link.topics.haAttributes, JSON.stringify({ last_refusal: lastRefusal }), true);
  };
  if (!target) {
    await refused(null, 'invalid_command', 'expected LOCK or UNLOCK');
    return;
  }
  const verdict = await manager.actuate(target, 'home_assistant', {
    homeAssistantUnlock: link.options.homeAssistant.allowUnlock,
  });
  if (!verdict.allowed) await refused(text, verdict.reason, verdict.message);
}
