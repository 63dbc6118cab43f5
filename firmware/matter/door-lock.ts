import { Supervision } from '@matter/main';
import { DoorLockServer } from '@matter/main/behaviors/door-lock';
import { DoorLock } from '@matter/main/clusters/door-lock';
import { type FabricIndex, type NodeId, Status, StatusResponseError } from '@matter/main/types';
import type { DenialReason } from '../access/types.ts';
import type { Firmware } from '../firmware.ts';
import { SCHEDULES_PER_USER, type WeekDaySchedule, type YearDaySchedule } from './schedules.ts';
import { isSupportedUserType, type MatterUser, type MatterUsers, type ScheduleKind } from './users.ts';

const {
  CredentialType,
  DataOperationType,
  LockDataType,
  LockOperationType,
  OperationError,
  OperationSource,
} = DoorLock;
const { UserStatus } = DoorLock;
type Credential = DoorLock.Credential;

/** What the Door Lock cluster forwards into: the firmware and the Matter users kept in its store. */
export interface DoorLockPort {
  firmware: Firmware;
  users: MatterUsers;
  requirePinForRemoteOperation: boolean;
}

/** The Door Lock attributes the firmware owns: a controller's write is refused, never applied. */
export const FIRMWARE_ATTRIBUTES = [
  'operatingMode',
  'wrongCodeEntryLimit',
  'userCodeTemporaryDisableTime',
  'requirePinForRemoteOperation',
  'autoRelockTime',
] as const;

/** The Matter form of a refused keypad-style decision (LockOperationError's OperationError). */
export function operationErrorFor(reason: DenialReason): DoorLock.OperationError {
  switch (reason) {
    case 'disabled':
      return OperationError.DisabledUserDenied;
    case 'unknown_code':
    case 'malformed':
    case 'revoked':
      return OperationError.InvalidCredential;
    default:
      // lockout, outside_schedule, not_yet_active, expired, used_up, mode_restricted, clock_untrusted
      return OperationError.Restricted;
  }
}

/** A PIN as Matter carries it: bytes of ASCII digits. Anything else is not a Tumbler PIN. */
export function pinFromBytes(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('latin1');
}

export const PinFeatures = DoorLockServer.with(
  'PinCredential',
  'User',
  'DoorPositionSensor',
  'CredentialOverTheAirAccess',
  'WeekDayAccessSchedules',
  'YearDayAccessSchedules',
);

/** "Clear all" in ClearWeekDaySchedule and ClearYearDaySchedule. */
const ALL_SCHEDULES = 0xfe;

/**
 * The Door Lock cluster as a thin adapter over LockManager (docs/matter.md): every command
 * is one call into the firmware (the decision, the remote rule, CodeAdmin through
 * MatterUsers) and a translation of its answer into Matter's statuses and events. Nothing
 * here decides who may open, and matter.js's own user and credential store stays empty.
 */
export function doorLockServerFor(port: DoorLockPort) {
  const { firmware, users } = port;
  const manager = firmware.manager;

  const Server = class TumblerDoorLockServer extends PinFeatures {
    override initialize() {
      super.initialize();
      for (const name of FIRMWARE_ATTRIBUTES) {
        type Changing = (value: unknown, old: unknown, context: { fabric?: number }) => void;
        const changing = (this.events as unknown as Record<string, { on(fn: Changing): void } | undefined>)[
          `${name}$Changing`
        ];
        // Our own updates run offline (no fabric); a controller's write names its fabric.
        changing?.on((_value, _old, context) => {
          if (context?.fabric !== undefined)
            throw new StatusResponseError(`${name} follows the lock's own settings`, Status.UnsupportedWrite);
        });
      }
    }

    override async lockDoor(_request: DoorLock.LockDoorRequest) {
      // Locking needs no PIN: anyone at the door may lock it, and a PIN would be a keypad decision that unlocks.
      const verdict = await manager.actuate('locked', 'matter');
      if (!verdict.allowed) {
        this.#operationError(LockOperationType.Lock, OperationError.Restricted);
        throw new StatusResponseError(verdict.message, Status.Failure);
      }
      this.#operation(LockOperationType.Lock, null, null);
    }

    override async unlockDoor(request: DoorLock.UnlockDoorRequest) {
      await this.#unlock(request.pinCode);
    }

    override async unlockWithTimeout(request: DoorLock.UnlockWithTimeoutRequest) {
      // The bolt relocks on the lock's own auto-relock time; Timeout is not a Tumbler setting.
      if (request.timeout !== firmware.config.autoRelockSeconds)
        throw new StatusResponseError(
          `the lock relocks after ${firmware.config.autoRelockSeconds} s (autoRelockSeconds), not ${request.timeout} s`,
          Status.ConstraintError,
        );
      await this.#unlock(request.pinCode);
    }

    async #unlock(pinCode: Uint8Array | undefined) {
      if (pinCode === undefined) {
        if (port.requirePinForRemoteOperation) {
          this.#operationError(LockOperationType.Unlock, OperationError.InvalidCredential);
          throw new StatusResponseError('a PIN is required (RequirePINforRemoteOperation)', Status.Failure);
        }
        const verdict = await manager.actuate('unlocked', 'matter');
        if (!verdict.allowed) {
          this.#operationError(LockOperationType.Unlock, OperationError.Restricted);
          throw new StatusResponseError(verdict.message, Status.Failure);
        }
        this.#operation(LockOperationType.Unlock, null, null);
        return;
      }
      const record = await manager.submitEntry(pinFromBytes(pinCode), 'matter');
      const owner = record.decision.code ? users.ownerOfCode(record.decision.code.id) : undefined;
      if (record.decision.outcome === 'denied') {
        this.#operationError(LockOperationType.Unlock, operationErrorFor(record.decision.reason), owner);
        throw new StatusResponseError(`refused: ${record.decision.reason}`, Status.Failure);
      }
      this.#operation(LockOperationType.Unlock, owner?.user.index ?? null, owner?.slot.index ?? null);
    }

    // ── Users (USR) ─────────────────────────────────────────────────────────

    override setUser(request: DoorLock.SetUserRequest) {
      const fabric = this.#fabric;
      const { userIndex } = request;
      if (userIndex < 1 || userIndex > users.maxUsers)
        throw new StatusResponseError('user index out of range', Status.InvalidCommand);
      if (request.userType !== null && !isSupportedUserType(request.userType))
        throw new StatusResponseError('user type has no Tumbler form', Status.InvalidCommand);
      if (request.credentialRule !== null && request.credentialRule !== DoorLock.CredentialRule.Single)
        throw new StatusResponseError('only the single credential rule is supported', Status.InvalidCommand);
      const status = request.userStatus === null ? undefined : request.userStatus;
      if (status === UserStatus.Available)
        throw new StatusResponseError('user status must be enabled or disabled', Status.InvalidCommand);
      let result: ReturnType<MatterUsers['addUser']>;
      if (request.operationType === DataOperationType.Add) {
        result = users.addUser({
          index: userIndex,
          name: request.userName ?? '',
          uniqueId: request.userUniqueId,
          enabled: status !== UserStatus.OccupiedDisabled,
          type: (request.userType ?? 0) as MatterUser['type'],
          creatorFabric: fabric,
        });
      } else if (request.operationType === DataOperationType.Modify) {
        const existing = users.find(userIndex);
        if (
          existing &&
          existing.creatorFabric !== fabric &&
          (request.userName !== null || request.userUniqueId !== null)
        )
          throw new StatusResponseError(
            'name and unique id belong to the creating fabric',
            Status.InvalidCommand,
          );
        result = users.modifyUser(
          userIndex,
          {
            ...(request.userName !== null ? { name: request.userName } : {}),
            ...(status !== undefined ? { enabled: status !== UserStatus.OccupiedDisabled } : {}),
            ...(request.userType !== null ? { type: request.userType as MatterUser['type'] } : {}),
            ...(request.userUniqueId !== null ? { uniqueId: request.userUniqueId } : {}),
          },
          fabric,
        );
      } else {
        throw new StatusResponseError('operation type must be add or modify', Status.InvalidCommand);
      }
      if (!result.ok) throw refusalStatus(result);
      this.#userChange(
        LockDataType.UserIndex,
        request.operationType === DataOperationType.Add ? DataOperationType.Add : DataOperationType.Modify,
        userIndex,
        null,
      );
    }

    override getUser(request: DoorLock.GetUserRequest): DoorLock.GetUserResponse {
      const { userIndex } = request;
      if (userIndex < 1 || userIndex > users.maxUsers)
        throw new StatusResponseError('user index out of range', Status.InvalidCommand);
      const all = users.list();
      const user = all.find((u) => u.index === userIndex);
      const next = all.find((u) => u.index > userIndex)?.index ?? null;
      if (!user)
        return {
          userIndex,
          userName: null,
          userUniqueId: null,
          userStatus: null,
          userType: null,
          credentialRule: null,
          credentials: null,
          creatorFabricIndex: null,
          lastModifiedFabricIndex: null,
          nextUserIndex: next,
        };
      return {
        userIndex,
        userName: user.name,
        userUniqueId: user.uniqueId,
        userStatus: user.enabled ? UserStatus.OccupiedEnabled : UserStatus.OccupiedDisabled,
        userType: user.type as unknown as DoorLock.UserType,
        credentialRule: DoorLock.CredentialRule.Single,
        credentials: user.pins.map((pin) => ({
          credentialType: CredentialType.Pin,
          credentialIndex: pin.index,
        })),
        creatorFabricIndex: user.creatorFabric as FabricIndex,
        lastModifiedFabricIndex: user.lastModifiedFabric as FabricIndex,
        nextUserIndex: next,
      };
    }

    override clearUser(request: DoorLock.ClearUserRequest) {
      const { userIndex } = request;
      if (userIndex !== 0xfffe && (userIndex < 1 || userIndex > users.maxUsers))
        throw new StatusResponseError('user index out of range', Status.InvalidCommand);
      const cleared = users.clearUser(userIndex);
      if (cleared.length > 0 || userIndex === 0xfffe)
        this.#userChange(LockDataType.UserIndex, DataOperationType.Clear, userIndex, null);
    }

    // ── PIN credentials ─────────────────────────────────────────────────────

    override setCredential(request: DoorLock.SetCredentialRequest): DoorLock.SetCredentialResponse {
      const fabric = this.#fabric;
      const { credential, operationType } = request;
      const failed = (status: Status) => ({
        status,
        userIndex: null,
        nextCredentialIndex: this.#nextFreePin(credential),
      });
      if (credential.credentialType !== CredentialType.Pin) return failed(Status.InvalidCommand);
      if (credential.credentialIndex < 1 || credential.credentialIndex > users.maxUsers)
        return failed(Status.InvalidCommand);
      const pin = pinFromBytes(request.credentialData);
      if (operationType === DataOperationType.Add) {
        let userIndex = request.userIndex;
        let created: number | null = null;
        if (userIndex === null) {
          // A PIN without a user: Matter makes a user for it.
          if (request.userType !== null && !isSupportedUserType(request.userType))
            return failed(Status.InvalidCommand);
          const free = users.freeUserIndex();
          if (free === undefined) return failed(Status.ResourceExhausted);
          const added = users.addUser({
            index: free,
            name: '',
            uniqueId: null,
            enabled: request.userStatus !== UserStatus.OccupiedDisabled,
            type: (request.userType ?? 0) as MatterUser['type'],
            creatorFabric: fabric,
          });
          if (!added.ok) return failed(Status.Failure);
          userIndex = created = free;
        } else {
          const user = users.find(userIndex);
          if (!user || user.creatorFabric !== fabric) return failed(Status.InvalidCommand);
          if (user.pins.length > 0) return failed(Status.ResourceExhausted);
        }
        const result = users.addPin(userIndex, credential.credentialIndex, pin, fabric);
        if (!result.ok) {
          if (created !== null) users.clearUser(created);
          return failed(credentialStatus(result.error));
        }
        if (created !== null) this.#userChange(LockDataType.UserIndex, DataOperationType.Add, created, null);
        this.#userChange(LockDataType.Pin, DataOperationType.Add, userIndex, credential.credentialIndex);
        return {
          status: Status.Success,
          userIndex: created,
          nextCredentialIndex: this.#nextFreePin(credential),
        };
      }
      if (operationType === DataOperationType.Modify) {
        const owner = users.findPin(credential.credentialIndex);
        if (!owner || owner.user.creatorFabric !== fabric) return failed(Status.InvalidCommand);
        if (request.userIndex !== null && request.userIndex !== owner.user.index)
          return failed(Status.InvalidCommand);
        const result = users.replacePin(credential.credentialIndex, pin, fabric);
        if (!result.ok) return failed(credentialStatus(result.error));
        this.#userChange(
          LockDataType.Pin,
          DataOperationType.Modify,
          owner.user.index,
          credential.credentialIndex,
        );
        return {
          status: Status.Success,
          userIndex: null,
          nextCredentialIndex: this.#nextFreePin(credential),
        };
      }
      return failed(Status.InvalidCommand);
    }

    override getCredentialStatus(
      request: DoorLock.GetCredentialStatusRequest,
    ): DoorLock.GetCredentialStatusResponse {
      const { credential } = request;
      if (credential.credentialType !== CredentialType.Pin)
        throw new StatusResponseError('only PIN credentials are supported', Status.InvalidCommand);
      const owner = users.findPin(credential.credentialIndex);
      const next = this.#nextUsedPin(credential.credentialIndex);
      if (!owner)
        return {
          credentialExists: false,
          userIndex: null,
          creatorFabricIndex: null,
          lastModifiedFabricIndex: null,
          nextCredentialIndex: next,
        };
      return {
        credentialExists: true,
        userIndex: owner.user.index,
        creatorFabricIndex: owner.user.creatorFabric as FabricIndex,
        lastModifiedFabricIndex: owner.user.lastModifiedFabric as FabricIndex,
        nextCredentialIndex: next,
      };
    }

    override clearCredential(request: DoorLock.ClearCredentialRequest) {
      const { credential } = request;
      if (credential !== null && credential.credentialType !== CredentialType.Pin)
        throw new StatusResponseError('only PIN credentials are supported', Status.InvalidCommand);
      const index = credential?.credentialIndex ?? 0xfffe;
      if (index !== 0xfffe && !users.findPin(index))
        throw new StatusResponseError('no PIN in that slot', Status.InvalidCommand);
      users.clearPin(index);
      this.#userChange(LockDataType.Pin, DataOperationType.Clear, null, index);
    }

    // ── Week-day and year-day schedules (WDSCH, YDSCH) ──────────────────────

    override setWeekDaySchedule(request: DoorLock.SetWeekDayScheduleRequest) {
      const { weekDayIndex, userIndex, daysMask, startHour, startMinute, endHour, endMinute } = request;
      const mask = typeof daysMask === 'number' ? daysMask : daysMaskBits(daysMask);
      this.#setSchedule('weekDay', weekDayIndex, userIndex, {
        daysMask: mask,
        startHour,
        startMinute,
        endHour,
        endMinute,
      });
    }

    override getWeekDaySchedule(request: DoorLock.GetWeekDayScheduleRequest) {
      const { weekDayIndex, userIndex } = request;
      const found = this.#schedule('weekDay', weekDayIndex, userIndex) as WeekDaySchedule | Status;
      if (typeof found === 'number') return { weekDayIndex, userIndex, status: found };
      return {
        weekDayIndex,
        userIndex,
        status: Status.Success,
        daysMask: daysMaskFlags(found.daysMask),
        startHour: found.startHour,
        startMinute: found.startMinute,
        endHour: found.endHour,
        endMinute: found.endMinute,
      };
    }

    override clearWeekDaySchedule(request: DoorLock.ClearWeekDayScheduleRequest) {
      this.#clearSchedule('weekDay', request.weekDayIndex, request.userIndex);
    }

    override setYearDaySchedule(request: DoorLock.SetYearDayScheduleRequest) {
      const { yearDayIndex, userIndex, localStartTime, localEndTime } = request;
      this.#setSchedule('yearDay', yearDayIndex, userIndex, { localStartTime, localEndTime });
    }

    override getYearDaySchedule(request: DoorLock.GetYearDayScheduleRequest) {
      const { yearDayIndex, userIndex } = request;
      const found = this.#schedule('yearDay', yearDayIndex, userIndex) as YearDaySchedule | Status;
      if (typeof found === 'number') return { yearDayIndex, userIndex, status: found };
      return { yearDayIndex, userIndex, status: Status.Success, ...found };
    }

    override clearYearDaySchedule(request: DoorLock.ClearYearDayScheduleRequest) {
      this.#clearSchedule('yearDay', request.yearDayIndex, request.userIndex);
    }

    #checkScheduleIndexes(scheduleIndex: number, userIndex: number, all = false) {
      const scheduleOk =
        (scheduleIndex >= 1 && scheduleIndex <= SCHEDULES_PER_USER) ||
        (all && scheduleIndex === ALL_SCHEDULES);
      if (!scheduleOk || userIndex < 1 || userIndex > users.maxUsers)
        throw new StatusResponseError('schedule or user index out of range', Status.InvalidCommand);
    }

    #setSchedule(
      kind: ScheduleKind,
      scheduleIndex: number,
      userIndex: number,
      schedule: WeekDaySchedule | YearDaySchedule,
    ) {
      const fabric = this.#fabric;
      this.#checkScheduleIndexes(scheduleIndex, userIndex);
      // A schedule needs a user to restrict: none at that index is FAILURE, as connectedhomeip's lock answers.
      const user = users.find(userIndex);
      if (!user) throw new StatusResponseError(`no user ${userIndex}`, Status.Failure);
      const result = users.setSchedule(userIndex, kind, schedule, fabric);
      if (!result.ok) throw refusalStatus(result);
      const operation = user[kind] === null ? DataOperationType.Add : DataOperationType.Modify;
      this.#userChange(scheduleDataType(kind), operation, userIndex, scheduleIndex);
    }

    #schedule(
      kind: ScheduleKind,
      scheduleIndex: number,
      userIndex: number,
    ): WeekDaySchedule | YearDaySchedule | Status {
      if (
        scheduleIndex < 1 ||
        scheduleIndex > SCHEDULES_PER_USER ||
        userIndex < 1 ||
        userIndex > users.maxUsers
      )
        return Status.InvalidCommand;
      return users.find(userIndex)?.[kind] ?? Status.NotFound;
    }

    #clearSchedule(kind: ScheduleKind, scheduleIndex: number, userIndex: number) {
      const fabric = this.#fabric;
      this.#checkScheduleIndexes(scheduleIndex, userIndex, true);
      const user = users.find(userIndex);
      if (!user) throw new StatusResponseError(`no user ${userIndex}`, Status.Failure);
      if (user[kind] === null) return;
      const result = users.setSchedule(userIndex, kind, null, fabric);
      if (!result.ok) throw refusalStatus(result);
      this.#userChange(scheduleDataType(kind), DataOperationType.Clear, userIndex, scheduleIndex);
    }

    // ── helpers ─────────────────────────────────────────────────────────────

    get #fabric(): number {
      const fabric = this.context.fabric;
      if (fabric === undefined)
        throw new StatusResponseError('a fabric is required', Status.UnsupportedAccess);
      return fabric;
    }

    get #sourceNode(): NodeId | null {
      const context = this.context as { subject?: { kind?: string; id?: NodeId } };
      return context.subject?.kind === 'node' ? (context.subject.id ?? null) : null;
    }

    #nextFreePin(credential: Credential): number | null {
      const used = new Set(users.list().flatMap((u) => u.pins.map((p) => p.index)));
      for (let i = credential.credentialIndex + 1; i <= users.maxUsers; i++) if (!used.has(i)) return i;
      return null;
    }

    #nextUsedPin(after: number): number | null {
      const used = users
        .list()
        .flatMap((u) => u.pins.map((p) => p.index))
        .filter((i) => i > after)
        .sort((a, b) => a - b);
      return used[0] ?? null;
    }

    #operation(type: DoorLock.LockOperationType, userIndex: number | null, pinIndex: number | null) {
      this.events.lockOperation.emit(
        {
          lockOperationType: type,
          operationSource: OperationSource.Remote,
          userIndex,
          fabricIndex: this.context.fabric ?? null,
          sourceNode: this.#sourceNode,
          credentials:
            pinIndex === null ? null : [{ credentialType: CredentialType.Pin, credentialIndex: pinIndex }],
        },
        this.context,
      );
    }

    #operationError(
      type: DoorLock.LockOperationType,
      error: DoorLock.OperationError,
      owner?: { user: MatterUser; slot: { index: number } },
    ) {
      this.events.lockOperationError.emit(
        {
          lockOperationType: type,
          operationSource: OperationSource.Remote,
          operationError: error,
          userIndex: owner?.user.index ?? null,
          fabricIndex: this.context.fabric ?? null,
          sourceNode: this.#sourceNode,
          credentials: owner
            ? [{ credentialType: CredentialType.Pin, credentialIndex: owner.slot.index }]
            : null,
        },
        this.context,
      );
    }

    #userChange(
      dataType: DoorLock.LockDataType,
      operation: DoorLock.DataOperationType,
      userIndex: number | null,
      dataIndex: number | null,
    ) {
      this.events.lockUserChange.emit(
        {
          lockDataType: dataType,
          dataOperationType: operation,
          operationSource: OperationSource.Remote,
          userIndex,
          fabricIndex: this.context.fabric ?? null,
          sourceNode: this.#sourceNode,
          dataIndex,
        },
        this.context,
      );
    }
  };
  // A field out of its range answers INVALID_COMMAND, as the Door Lock cluster specifies (not CONSTRAINT_ERROR).
  for (const method of [
    'setUser',
    'getUser',
    'clearUser',
    'setCredential',
    'setWeekDaySchedule',
    'getWeekDaySchedule',
    'clearWeekDaySchedule',
    'setYearDaySchedule',
    'getYearDaySchedule',
    'clearYearDaySchedule',
  ])
    Supervision(Server, method).onValidationError = () => {
      throw new StatusResponseError('invalid field value', Status.InvalidCommand);
    };
  return Server;
}

const DAY_FLAGS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'] as const;

/** DaysMaskBitmap as matter.js hands it over (flags by day name) in its bits, Sunday first. */
function daysMaskBits(flags: Partial<Record<(typeof DAY_FLAGS)[number], boolean>>): number {
  return DAY_FLAGS.reduce((mask, day, bit) => (flags[day] ? mask | (1 << bit) : mask), 0);
}

function daysMaskFlags(mask: number): Record<(typeof DAY_FLAGS)[number], boolean> {
  return Object.fromEntries(DAY_FLAGS.map((day, bit) => [day, (mask & (1 << bit)) !== 0])) as Record<
    (typeof DAY_FLAGS)[number],
    boolean
  >;
}

function scheduleDataType(kind: ScheduleKind): DoorLock.LockDataType {
  return kind === 'weekDay' ? LockDataType.WeekDaySchedule : LockDataType.YearDaySchedule;
}

/** SetCredentialResponse's status for a refusal (a duplicate PIN or a taken slot: FAILURE, as matter.js's own server answers). */
function credentialStatus(error: string): Status {
  switch (error) {
    case 'duplicate':
    case 'occupied':
      return Status.Failure;
    case 'no_space':
      return Status.ResourceExhausted;
    default:
      return Status.InvalidCommand;
  }
}

function refusalStatus(refusal: { error: string; message: string }): StatusResponseError {
  if (refusal.error === 'occupied') return new DoorLock.OccupiedError(refusal.message);
  return new StatusResponseError(
    refusal.message,
    refusal.error === 'not_found' ? Status.InvalidCommand : credentialStatus(refusal.error),
  );
}
