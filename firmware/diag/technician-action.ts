import type { CommandCall } from './registry.ts';

/**
 * Audits a privileged console action beside whatever row the core writes for its
 * effect: who asked (the token's id, never the token) and with which arguments.
 */
export function auditTechnicianAction(
  call: CommandCall,
  action: string,
  data: Record<string, unknown> = {},
): void {
  const { manager } = call.ctx.firmware;
  manager.record(
    'technician_action',
    { action, ...data, token_id: call.session.technician?.tokenId ?? null },
    manager.wallNow(),
  );
}
