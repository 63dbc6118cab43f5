import { type CodeFields, parseCodeFields } from '../access/code-spec.ts';
import type { CodeRecord, CodeStore } from '../store/codes.ts';

/**
 * desired/codes entries that keep the PIN the lock holds (docs/protocol.md, "Adopting a
 * code"): `adopt: ID` makes the lock's local code ID this ref's gateway code, and
 * `keep_pin: true` declares this ref's code again without a PIN. The gateway never learns
 * a PIN the lock holds, so these are how a code added at the lock becomes gateway-managed.
 */
export type KeptPinEntry =
  | { ok: true; id: number; pinHash: string; adopting: boolean; spec: CodeFields }
  | { ok: false; error: 'invalid_code' | 'invalid_window' | 'not_found' | 'not_local'; message: string };

/** Whether an entry (without its `ref` and `pin_enc`) is one of these forms. */
export const keepsPin = (fields: Record<string, unknown>) => 'adopt' in fields || 'keep_pin' in fields;

/**
 * Resolves such an entry to the code it names. Refusals change nothing; `current` is the
 * gateway code the lock holds under this ref, if any.
 */
export function resolveKeptPin(
  codes: CodeStore,
  current: CodeRecord | undefined,
  fields: Record<string, unknown>,
  sealed: boolean,
): KeptPinEntry {
  const { adopt, keep_pin: keepPin, ...rest } = fields;
  const invalid = (message: string) => ({ ok: false as const, error: 'invalid_code' as const, message });
  if (sealed || rest.pin !== undefined) return invalid('give one of pin, pin_enc, adopt and keep_pin');
  if (adopt !== undefined && keepPin !== undefined) return invalid('give adopt or keep_pin, not both');
  if (keepPin !== undefined && keepPin !== true) return invalid('keep_pin: must be true');
  if (adopt !== undefined && !(Number.isSafeInteger(adopt) && (adopt as number) >= 1))
    return invalid('adopt: must be the id of a code the lock holds (an integer of at least 1)');
  const parsed = parseCodeFields(rest);
  if (!parsed.ok) return parsed;
  if (adopt === undefined) {
    if (!current)
      return { ok: false, error: 'not_found', message: 'keep_pin: the lock holds no code for this ref' };
    return {
      ok: true,
      id: current.id,
      pinHash: codes.pinHashOf(current.id)!,
      adopting: false,
      spec: parsed.spec,
    };
  }
  const id = adopt as number;
  // Adopted by an earlier revision: the same entry again keeps the code as it is.
  if (current?.id === id)
    return { ok: true, id, pinHash: codes.pinHashOf(id)!, adopting: false, spec: parsed.spec };
  if (current)
    return {
      ok: false,
      error: 'not_local',
      message: `adopt: this ref names lock code ${current.id}, not ${id}`,
    };
  const code = codes.get(id);
  if (!code) return { ok: false, error: 'not_found', message: `adopt: the lock holds no code with id ${id}` };
  if (code.source !== 'local')
    return {
      ok: false,
      error: 'not_local',
      message: `adopt: code ${id} is a ${code.source} code; only a code added at the lock can be adopted`,
    };
  return { ok: true, id, pinHash: codes.pinHashOf(id)!, adopting: true, spec: parsed.spec };
}
