import type { CodeSpec } from '../access/code-spec.ts';
import { codeNameSchema, PIN_MAX_LENGTH, PIN_MIN_LENGTH } from '../access/code-spec.ts';
import type { CodeKind, Role } from '../access/types.ts';
import type { Firmware } from '../firmware.ts';
import type { CodeRecord } from '../store/codes.ts';
import {
  codeTimingFor,
  type WeekDaySchedule,
  weekDayProblem,
  type YearDaySchedule,
  yearDayProblem,
} from './schedules.ts';

/** The Matter user types Tumbler has a form for (Matter 1.3, 5.2.9.33 UserTypeEnum). */
export const MATTER_USER_TYPES = {
  0: { name: 'unrestricted', role: 'standard', kind: 'ongoing' },
  4: { name: 'non_access', role: 'non_access', kind: 'ongoing' },
  5: { name: 'forced', role: 'duress', kind: 'ongoing' },
  6: { name: 'disposable', role: 'standard', kind: 'one_time' },
} as const satisfies Record<number, { name: string; role: Role; kind: CodeKind }>;
export type MatterUserType = keyof typeof MATTER_USER_TYPES;

export function isSupportedUserType(type: number): type is MatterUserType {
  return Object.hasOwn(MATTER_USER_TYPES, type);
}

/** One Matter PIN credential: its slot number and the Tumbler code that holds the PIN. */
export interface PinSlot {
  index: number;
  codeId: number;
}

/** A Matter user as the lock keeps it: who it is, never a PIN (those are codes). */
export interface MatterUser {
  index: number;
  name: string;
  uniqueId: number | null;
  enabled: boolean;
  type: MatterUserType;
  creatorFabric: number;
  lastModifiedFabric: number;
  pins: PinSlot[];
  /** Its one week-day and one year-day schedule (schedule index 1), restricting its codes. */
  weekDay: WeekDaySchedule | null;
  yearDay: YearDaySchedule | null;
}

/** Which of a user's schedules: the Door Lock cluster's week-day or year-day kind. */
export type ScheduleKind = 'weekDay' | 'yearDay';

const STATE_KEY = 'matter_users';
const BY = 'matter';

/** The `matter_users` row: the users, and whether a factory reset left the fabric data to erase. */
interface StoredUsers {
  users: unknown[];
  /** Set by a factory reset; whoever runs the Matter node erases DIR/matter and clears it. */
  eraseFabrics?: boolean;
}

/**
 * The factory reset's Matter part, run inside its transaction (firmware/diag/factory-reset.ts):
 * no Matter users any more (their codes go with every other code), and the fabric data marked
 * for erasing, which the running node does at once and a lock started later with --matter
 * does before its node starts. Returns how many users were removed, for the audit row.
 */
export function eraseMatterUsers(state: Firmware['state']): number {
  const stored = state.get<StoredUsers>(STATE_KEY, { users: [] });
  state.set(STATE_KEY, { users: [], eraseFabrics: true } satisfies StoredUsers);
  return stored.users.length;
}

export type UserRefusal =
  | { ok: false; error: 'invalid'; message: string }
  | { ok: false; error: 'occupied'; message: string }
  | { ok: false; error: 'not_found'; message: string }
  | { ok: false; error: 'duplicate'; message: string }
  | { ok: false; error: 'no_space'; message: string };

const refuse = <E extends UserRefusal['error']>(error: E, message: string) =>
  ({ ok: false, error, message }) as const;

/**
 * Matter's users and PIN credentials mapped onto Tumbler codes (docs/matter.md, "Users and
 * PINs"). A Matter PIN is one code in the same store as the keypad CLI's and the gateway's,
 * added, switched and removed through CodeAdmin (audited, `by: "matter"`); the Matter-only
 * facts (user index, name, type, fabrics, which code fills which slot) are one state row
 * written in the same transaction. Refusals are values; nothing changes on a refusal.
 */
export class MatterUsers {
  constructor(
    private readonly firmware: Firmware,
    readonly maxUsers: number,
  ) {}

  /** Every user, with slots whose code was removed elsewhere (CLI, gateway) left out. */
  list(): MatterUser[] {
    const users = this.read();
    const exists = new Set(this.firmware.codes.list().map((code) => code.id));
    return users.map((user) => ({ ...user, pins: user.pins.filter((pin) => exists.has(pin.codeId)) }));
  }

  find(index: number): MatterUser | undefined {
    return this.list().find((user) => user.index === index);
  }

  /** The user and slot a Tumbler code fills, for LockOperation's user index. */
  ownerOfCode(codeId: number): { user: MatterUser; slot: PinSlot } | undefined {
    for (const user of this.list()) {
      const slot = user.pins.find((pin) => pin.codeId === codeId);
      if (slot) return { user, slot };
    }
    return undefined;
  }

  findPin(slotIndex: number): { user: MatterUser; slot: PinSlot } | undefined {
    for (const user of this.list()) {
      const slot = user.pins.find((pin) => pin.index === slotIndex);
      if (slot) return { user, slot };
    }
    return undefined;
  }

  freeUserIndex(): number | undefined {
    const taken = new Set(this.read().map((user) => user.index));
    for (let index = 1; index <= this.maxUsers; index++) if (!taken.has(index)) return index;
    return undefined;
  }

  addUser(
    user: Omit<MatterUser, 'pins' | 'lastModifiedFabric' | 'weekDay' | 'yearDay'>,
  ): { ok: true; user: MatterUser } | UserRefusal {
    const name = checkName(user.name);
    if (typeof name !== 'string') return name;
    if (this.find(user.index)) return refuse('occupied', `user ${user.index} exists`);
    const added: MatterUser = {
      ...user,
      name,
      lastModifiedFabric: user.creatorFabric,
      pins: [],
      weekDay: null,
      yearDay: null,
    };
    this.transaction(() => this.write([...this.list(), added]));
    return { ok: true, user: added };
  }

  /** Changes name, status or type; a type change is refused while the user has PINs (their role would change). */
  modifyUser(
    index: number,
    change: { name?: string; enabled?: boolean; type?: MatterUserType; uniqueId?: number | null },
    fabric: number,
  ): { ok: true; user: MatterUser } | UserRefusal {
    const user = this.find(index);
    if (!user) return refuse('not_found', `user ${index} does not exist`);
    const name = change.name === undefined ? user.name : checkName(change.name);
    if (typeof name !== 'string') return name;
    if (change.type !== undefined && change.type !== user.type && user.pins.length > 0)
      return refuse('invalid', 'clear the user’s PINs before changing its type');
    const now = this.firmware.manager.wallNow();
    const changed: MatterUser = {
      ...user,
      name,
      enabled: change.enabled ?? user.enabled,
      type: change.type ?? user.type,
      uniqueId: change.uniqueId === undefined ? user.uniqueId : change.uniqueId,
      lastModifiedFabric: fabric,
    };
    try {
      this.transaction(() => {
        if (changed.enabled !== user.enabled)
          for (const pin of user.pins) {
            const result = this.firmware.admin.setEnabled(pin.codeId, changed.enabled, BY, now);
            // Switching one code on can clash with an enabled code's PIN: undo every switch.
            if (!result.ok) throw new Refused('duplicate', result.message);
          }
        this.write(this.list().map((u) => (u.index === index ? changed : u)));
      });
    } catch (error) {
      if (error instanceof Refused) return refuse(error.error, error.message);
      throw error;
    }
    return { ok: true, user: changed };
  }

  /** Removes the user and its PIN codes (65534: every Matter user). */
  clearUser(index: number): MatterUser[] {
    const now = this.firmware.manager.wallNow();
    return this.transaction(() => {
      const users = this.list();
      const cleared = users.filter((user) => index === 0xfffe || user.index === index);
      for (const user of cleared)
        for (const pin of user.pins) this.firmware.admin.remove(pin.codeId, BY, now);
      this.write(users.filter((user) => !cleared.includes(user)));
      return cleared;
    });
  }

  /**
   * Adds a PIN in slot `slotIndex` to user `userIndex`, as a code named after the user.
   * The PIN must be 4-10 digits (a Tumbler PIN) and not an enabled code's already.
   */
  addPin(
    userIndex: number,
    slotIndex: number,
    pin: string,
    fabric: number,
  ): { ok: true; code: CodeRecord } | UserRefusal {
    const user = this.find(userIndex);
    if (!user) return refuse('not_found', `user ${userIndex} does not exist`);
    if (this.findPin(slotIndex)) return refuse('occupied', `PIN slot ${slotIndex} is in use`);
    const spec = pinSpec(user, slotIndex, pin, this.zone());
    if (!spec.ok) return spec;
    const now = this.firmware.manager.wallNow();
    return this.transaction(() => {
      const added = this.firmware.admin.addSpec(spec.spec, BY, now, 'local');
      if (!added.ok)
        return refuse(added.error === 'duplicate_code' ? 'duplicate' : 'no_space', added.message);
      this.write(
        this.list().map((u) =>
          u.index === userIndex
            ? {
                ...u,
                lastModifiedFabric: fabric,
                pins: [...u.pins, { index: slotIndex, codeId: added.code.id }],
              }
            : u,
        ),
      );
      return { ok: true as const, code: added.code };
    });
  }

  /** Replaces the PIN in a slot: the old code goes, a new one comes, in one transaction. */
  replacePin(slotIndex: number, pin: string, fabric: number): { ok: true; code: CodeRecord } | UserRefusal {
    const owner = this.findPin(slotIndex);
    if (!owner) return refuse('not_found', `PIN slot ${slotIndex} is empty`);
    const spec = pinSpec(owner.user, slotIndex, pin, this.zone());
    if (!spec.ok) return spec;
    const now = this.firmware.manager.wallNow();
    const { db } = this.firmware;
    try {
      return db
        .transaction(() => {
          this.firmware.admin.remove(owner.slot.codeId, BY, now);
          const added = this.firmware.admin.addSpec(spec.spec, BY, now, 'local');
          // A refusal must leave the old PIN in place: undo the removal by throwing out of the transaction.
          if (!added.ok)
            throw new Refused(added.error === 'duplicate_code' ? 'duplicate' : 'no_space', added.message);
          this.write(
            this.list().map((u) =>
              u.index === owner.user.index
                ? {
                    ...u,
                    lastModifiedFabric: fabric,
                    pins: [
                      ...u.pins.filter((p) => p.index !== slotIndex),
                      { index: slotIndex, codeId: added.code.id },
                    ],
                  }
                : u,
            ),
          );
          return { ok: true as const, code: added.code };
        })
        .immediate();
    } catch (error) {
      if (error instanceof Refused) return refuse(error.error, error.message);
      throw error;
    }
  }

  /**
   * Sets (or with null clears) a user's week-day or year-day schedule and reschedules its codes
   * in the same transaction, keeping their PINs (CodeAdmin.reschedule, audited
   * `code_rescheduled`). A schedule the code cannot take (a year-day window that DST leaves
   * empty) is refused and changes nothing.
   */
  setSchedule(
    userIndex: number,
    kind: ScheduleKind,
    schedule: WeekDaySchedule | YearDaySchedule | null,
    fabric: number,
  ): { ok: true; user: MatterUser } | UserRefusal {
    const user = this.find(userIndex);
    if (!user) return refuse('not_found', `user ${userIndex} does not exist`);
    if (schedule !== null) {
      const problem =
        kind === 'weekDay'
          ? weekDayProblem(schedule as WeekDaySchedule)
          : yearDayProblem(schedule as YearDaySchedule);
      if (problem) return refuse('invalid', problem);
    }
    const changed: MatterUser = { ...user, [kind]: schedule, lastModifiedFabric: fabric };
    const timing = codeTimingFor(
      MATTER_USER_TYPES[changed.type].kind,
      changed.weekDay,
      changed.yearDay,
      this.zone(),
    );
    // Checked here too for a user without a PIN yet: its PIN's code will be made with this window.
    if (timing.startsAt !== null && timing.endsAt !== null && timing.endsAt <= timing.startsAt)
      return refuse('invalid', 'the window has no time left in the lock’s time zone (daylight saving)');
    const now = this.firmware.manager.wallNow();
    try {
      this.transaction(() => {
        for (const pin of user.pins) {
          const result = this.firmware.admin.reschedule(pin.codeId, timing, BY, now);
          if (!result.ok) throw new Refused('invalid', result.message);
        }
        this.write(this.list().map((u) => (u.index === userIndex ? changed : u)));
      });
    } catch (error) {
      if (error instanceof Refused) return refuse(error.error, error.message);
      throw error;
    }
    return { ok: true, user: changed };
  }

  /** Removes the PIN in a slot (65534: every Matter PIN); returns the slots cleared. */
  clearPin(slotIndex: number): number[] {
    const now = this.firmware.manager.wallNow();
    return this.transaction(() => {
      const cleared: number[] = [];
      const users = this.list().map((user) => {
        const gone = user.pins.filter((pin) => slotIndex === 0xfffe || pin.index === slotIndex);
        for (const pin of gone) {
          this.firmware.admin.remove(pin.codeId, BY, now);
          cleared.push(pin.index);
        }
        return { ...user, pins: user.pins.filter((pin) => !gone.includes(pin)) };
      });
      this.write(users);
      return cleared;
    });
  }

  private zone(): string {
    return this.firmware.manager.status().timezone;
  }

  private transaction<T>(work: () => T): T {
    return this.firmware.db.transaction(work).immediate();
  }

  /** Whether a factory reset left the fabric data (DIR/matter) to be erased. */
  fabricsToErase(): boolean {
    return this.stored().eraseFabrics === true;
  }

  /** Called once DIR/matter is erased: the factory reset is complete. */
  fabricsErased(): void {
    const { eraseFabrics: _, ...rest } = this.stored();
    this.firmware.state.set(STATE_KEY, rest);
  }

  private stored(): StoredUsers {
    return this.firmware.state.get<StoredUsers>(STATE_KEY, { users: [] });
  }

  private read(): MatterUser[] {
    return this.stored().users.map((user, i) => parseUser(user, i));
  }

  private write(users: MatterUser[]): void {
    this.firmware.state.set(STATE_KEY, {
      ...this.stored(),
      users: [...users].sort((a, b) => a.index - b.index),
    });
  }
}

class Refused extends Error {
  constructor(
    readonly error: 'duplicate' | 'no_space' | 'invalid',
    message: string,
  ) {
    super(message);
  }
}

function checkName(name: string): string | UserRefusal {
  if (name === '') return '';
  const parsed = codeNameSchema.safeParse(name);
  return parsed.success ? parsed.data : refuse('invalid', 'user name must be printable text');
}

/** The code a Matter PIN becomes: named after its user and slot, kind and role from the user type. */
function pinSpec(
  user: MatterUser,
  slotIndex: number,
  pin: string,
  zone: string,
): { ok: true; spec: CodeSpec } | UserRefusal {
  if (!new RegExp(`^\\d{${PIN_MIN_LENGTH},${PIN_MAX_LENGTH}}$`).test(pin))
    return refuse('invalid', `a PIN must be ${PIN_MIN_LENGTH} to ${PIN_MAX_LENGTH} digits`);
  const type = MATTER_USER_TYPES[user.type];
  const who = user.name === '' ? `Matter user ${user.index}` : `${user.name} (Matter user ${user.index})`;
  return {
    ok: true,
    spec: {
      name: `${who} PIN ${slotIndex}`,
      pin,
      role: type.role,
      enabled: user.enabled,
      ...codeTimingFor(type.kind, user.weekDay, user.yearDay, zone),
      expireAfterFirstUseMin: null,
    },
  };
}

/**
 * A damaged row is refused by name rather than read as something that could open the door.
 * Rows written before schedules existed have none.
 */
function parseUser(value: unknown, position: number): MatterUser {
  const v = value as Partial<MatterUser> | null;
  const schedule = <T>(s: T | null | undefined, problem: (s: T) => string | undefined) =>
    s === undefined || s === null || (typeof s === 'object' && problem(s) === undefined);
  const int = (n: unknown, min: number, max: number) =>
    typeof n === 'number' && Number.isInteger(n) && n >= min && n <= max;
  const ok =
    typeof v === 'object' &&
    v !== null &&
    int(v.index, 1, 0xfffd) &&
    typeof v.name === 'string' &&
    (v.uniqueId === null || int(v.uniqueId, 0, 0xffffffff)) &&
    typeof v.enabled === 'boolean' &&
    typeof v.type === 'number' &&
    isSupportedUserType(v.type) &&
    int(v.creatorFabric, 0, 254) &&
    int(v.lastModifiedFabric, 0, 254) &&
    Array.isArray(v.pins) &&
    v.pins.every((pin) => int(pin?.index, 1, 0xfffd) && int(pin?.codeId, 1, Number.MAX_SAFE_INTEGER)) &&
    schedule(v.weekDay, weekDayProblem) &&
    schedule(v.yearDay, yearDayProblem);
  if (!ok)
    throw new Error(
      `lock.db: Matter user #${position + 1} in the saved "matter_users" state is damaged; refusing to use it`,
    );
  return { ...(v as MatterUser), weekDay: v.weekDay ?? null, yearDay: v.yearDay ?? null };
}
