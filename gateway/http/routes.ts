import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import {
  type AccessCodeFields,
  type AccessCodeRow,
  accessCodeById,
  backupAvailable,
  createAccessCode,
  forgetOfflineCode,
  GENERATED_CODE_LENGTH,
  generateCode,
  listAccessCodes,
  offlineCodesIssued,
  pinTaken,
  pullBackupCode,
  removeAccessCode,
  seamAccessCode,
  toSeamAccessCode,
  updateAccessCode,
} from '../seam/access-codes.ts';
import {
  actionAttemptById,
  finishActionAttempt,
  listActionAttempts,
  startActionAttempt,
  toSeamActionAttempt,
} from '../seam/action-attempts.ts';
import { convertToManaged } from '../seam/convert.ts';
import {
  allDevices,
  type DeviceRow,
  deviceByLockId,
  deviceBySeamId,
  TUMBLER_DEVICE_TYPE,
  toSeamDevice,
} from '../seam/devices.ts';
import { notFound, SeamInputError } from '../seam/errors.ts';
import { EVENT_TYPES, eventById, listSeamEvents, toSeamEvent } from '../seam/events.ts';
import { lockCodesOf, toSeamUnmanagedCode, unmanagedById, unmanagedCodes } from '../seam/lock-codes.ts';
import { issueSeamOfflineCode, ROUNDING_MS } from '../seam/offline-codes.ts';
import type { SeamGateway } from '../seam/runtime.ts';
import {
  createWebhook,
  deleteWebhook,
  listWebhooks,
  toSeamWebhook,
  updateWebhookEventTypes,
  webhookById,
} from '../seam/webhooks.ts';
import { getDevice } from '../store.ts';
import {
  accessCodeCreateInput,
  accessCodeDeleteInput,
  accessCodeGetInput,
  accessCodeListInput,
  accessCodeUpdateInput,
  actionAttemptGetInput,
  actionAttemptListInput,
  createMultipleInput,
  deviceGetInput,
  deviceListInput,
  eventGetInput,
  eventListInput,
  generateCodeInput,
  keypadEntryInput,
  lockCommandInput,
  parseInput,
  pullBackupInput,
  unmanagedConvertInput,
  unmanagedDeleteInput,
  unmanagedGetInput,
  unmanagedListInput,
  unmanagedUpdateInput,
  webhookCreateInput,
  webhookIdInput,
  webhookListInput,
  webhookUpdateInput,
} from './inputs.ts';

/** Every list answers in one page; the cursor fields say so. */
const ONE_PAGE = { has_next_page: false, next_page_cursor: null, next_page_url: null };

/** The Seam routes this gateway implements (docs/seam-api.md), each `POST /<resource>/<action>`. */
export function registerRoutes(app: FastifyInstance, gateway: SeamGateway): void {
  const store = gateway.store;
  const route = (path: string, handler: (body: unknown) => Promise<object> | object, methods = ['POST']) => {
    app.route({
      method: methods,
      url: path,
      // A GET (webhooks/list, as the SDK sends it) carries its parameters in the query.
      handler: async (request) => ({
        ...(await handler(request.method === 'GET' ? { ...(request.query as object) } : request.body)),
        ok: true,
      }),
    });
  };

  const device = async (seamDeviceId: string): Promise<DeviceRow> => {
    const found = await deviceBySeamId(store, seamDeviceId);
    if (!found) throw notFound('device', seamDeviceId);
    return found;
  };
  const deviceOf = async (row: { device_id: string }): Promise<DeviceRow> =>
    (await deviceByLockId(store, row.device_id))!;
  const devicesMatching = async (input: ReturnType<typeof deviceListInput.parse>) => {
    const types = [...(input.device_types ?? []), ...(input.device_type ? [input.device_type] : [])];
    return (await allDevices(store))
      .filter((d) => !input.device_ids || input.device_ids.includes(d.seam_device_id))
      .filter(() => types.length === 0 || types.includes(TUMBLER_DEVICE_TYPE))
      .map((d) => toSeamDevice(store, d));
  };
  const deviceGot = async (body: unknown) => {
    const input = parseInput(deviceGetInput, body);
    if (input.device_id !== undefined) return toSeamDevice(store, await device(input.device_id));
    if (input.name !== undefined) {
      const found = (await allDevices(store)).find((d) => d.device_id === input.name);
      if (!found) throw notFound('device', input.name);
      return toSeamDevice(store, found);
    }
    throw new SeamInputError('device_id', 'device_id: required (or name)');
  };

  route('/devices/list', async (body) => ({
    devices: await devicesMatching(parseInput(deviceListInput, body)),
    pagination: ONE_PAGE,
  }));
  route('/devices/get', async (body) => ({ device: await deviceGot(body) }));
  route('/locks/list', async (body) => {
    const devices = await devicesMatching(parseInput(deviceListInput, body));
    return { locks: devices, devices };
  });
  route('/locks/get', async (body) => {
    const found = await deviceGot(body);
    return { lock: found, device: found };
  });

  for (const target of ['lock', 'unlock'] as const) {
    route(`/locks/${target}_door`, async (body) => {
      const input = parseInput(lockCommandInput, body);
      const { id, done } = await gateway.startLockCommand(await device(input.device_id), target);
      if (input.sync) await done;
      return { action_attempt: toSeamActionAttempt((await actionAttemptById(store, id))!) };
    });
  }

  route('/locks/simulate/keypad_code_entry', async (body) => {
    const input = parseInput(keypadEntryInput, body);
    const { id } = await gateway.startCommand(await device(input.device_id), {
      type: 'SIMULATE_KEYPAD_CODE_ENTRY',
      name: 'sim_keypad',
      args: { code: input.code },
    });
    return { action_attempt: toSeamActionAttempt((await actionAttemptById(store, id))!) };
  });

  route('/action_attempts/get', async (body) => {
    const input = parseInput(actionAttemptGetInput, body);
    const attempt = await actionAttemptById(store, input.action_attempt_id);
    if (!attempt) throw notFound('action_attempt', input.action_attempt_id);
    return { action_attempt: toSeamActionAttempt(attempt) };
  });
  route('/action_attempts/list', async (body) => {
    const input = parseInput(actionAttemptListInput, body);
    const deviceId = input.device_id === undefined ? undefined : (await device(input.device_id)).device_id;
    const attempts = await listActionAttempts(store, {
      ...(input.action_attempt_ids ? { ids: input.action_attempt_ids } : {}),
      ...(deviceId !== undefined ? { deviceId } : {}),
      limit: 100_000,
    });
    return { action_attempts: attempts.map(toSeamActionAttempt), pagination: ONE_PAGE };
  });

  const accessCode = async (id: string): Promise<AccessCodeRow> => {
    const found = await accessCodeById(store, id);
    if (!found) throw notFound('access_code', id);
    return found;
  };
  /** Dates as epoch ms, the pair checked as a pair. */
  const windowOf = (startsAt: string | undefined, endsAt: string | undefined) => {
    if ((startsAt === undefined) !== (endsAt === undefined)) {
      const missing = startsAt === undefined ? 'starts_at' : 'ends_at';
      throw new SeamInputError(
        missing,
        `${missing}: required with ${missing === 'starts_at' ? 'ends_at' : 'starts_at'}`,
      );
    }
    return {
      startsAt: startsAt === undefined ? null : Date.parse(startsAt),
      endsAt: endsAt === undefined ? null : Date.parse(endsAt),
    };
  };
  const publish = (deviceId: string) => gateway.publishInBackground(deviceId);
  /** Seam's two names for one flag; both given, they must agree. */
  const externalModification = (input: {
    allow_external_modification?: boolean | undefined;
    is_external_modification_allowed?: boolean | undefined;
  }): boolean | undefined => {
    const { allow_external_modification: allow, is_external_modification_allowed: allowed } = input;
    if (allow !== undefined && allowed !== undefined && allow !== allowed)
      throw new SeamInputError(
        'is_external_modification_allowed',
        'is_external_modification_allowed: contradicts allow_external_modification',
      );
    return allow ?? allowed;
  };

  /**
   * An offline code (docs/offline-codes.md) issued with the lock's own issuer, from the
   * parameters its last `list_codes` answer gave (key version, code length, time zone).
   */
  const offlineFields = async (
    target: DeviceRow,
    input: ReturnType<typeof accessCodeCreateInput.parse>,
    window: { startsAt: number | null; endsAt: number | null },
  ): Promise<AccessCodeFields> => {
    for (const field of ['code', 'preferred_code_length', 'use_backup_access_code_pool'] as const)
      if (input[field] !== undefined)
        throw new SeamInputError(
          field,
          `${field}: not with is_offline_access_code (the issuer computes the code)`,
        );
    if (externalModification(input) !== undefined)
      throw new SeamInputError(
        'allow_external_modification',
        'allow_external_modification: an offline code is never on the lock to be modified',
      );
    const params = lockCodesOf(target)?.offline;
    if (!params)
      throw new SeamInputError(
        'is_offline_access_code',
        'is_offline_access_code: the lock has not yet told the gateway its offline-code key (it must connect once)',
      );
    const issuedBefore = await offlineCodesIssued(store, target.device_id);
    const issued = issueSeamOfflineCode(
      await getDevice(store.sql, target.device_id),
      params,
      {
        ...window,
        isOneTimeUse: input.is_one_time_use ?? false,
        roundingMs: ROUNDING_MS[input.max_time_rounding ?? '1hour'],
      },
      (fingerprint) => issuedBefore.has(fingerprint),
    );
    const bounded = issued.validUntil !== null;
    return {
      name: input.name ?? null,
      code: issued.code,
      startsAt: bounded ? issued.validFrom : null,
      endsAt: issued.validUntil,
      isOneTimeUse: input.is_one_time_use ?? false,
      allowExternalModification: false,
      offlineFingerprint: issued.fingerprint,
      offlineKeyVersion: issued.keyVersion,
    };
  };

  route('/access_codes/create', async (body) => {
    const input = parseInput(accessCodeCreateInput, body);
    const target = await device(input.device_id);
    if (input.code !== undefined && input.preferred_code_length !== undefined)
      throw new SeamInputError('preferred_code_length', 'preferred_code_length: only when code is left out');
    const window = windowOf(input.starts_at, input.ends_at);
    const fields: AccessCodeFields = input.is_offline_access_code
      ? await offlineFields(target, input, window)
      : {
          name: input.name ?? null,
          code: input.code ?? (await generateCode(store, target.device_id, input.preferred_code_length)),
          ...window,
          isOneTimeUse: input.is_one_time_use ?? false,
          allowExternalModification: externalModification(input) ?? false,
          useBackupPool: input.use_backup_access_code_pool ?? false,
        };
    if (!input.is_offline_access_code && input.max_time_rounding !== undefined)
      throw new SeamInputError('max_time_rounding', 'max_time_rounding: only for is_offline_access_code');
    const { row, revision } = await createAccessCode(store, target, fields);
    const attemptId = await startActionAttempt(store, {
      type: 'CREATE_ACCESS_CODE',
      deviceId: target.device_id,
      accessCodeId: row.access_code_id,
      ...(revision > 0 ? { awaitedRevision: revision } : {}),
    });
    const owner = await deviceOf(row);
    if (revision === 0) {
      // An offline code is usable once issued: the lock checks it with its own clock.
      const { code: _pin, ...accessCode } = await toSeamAccessCode(store, row, owner);
      await finishActionAttempt(store, attemptId, { result: { access_code: accessCode } });
    }
    // The answer is the state at creation (setting, pending), whatever the lock replies meanwhile.
    const answer = {
      access_code: await toSeamAccessCode(store, row, owner),
      action_attempt: toSeamActionAttempt((await actionAttemptById(store, attemptId))!),
    };
    publish(target.device_id);
    return answer;
  });

  /**
   * One code on several locks, sharing a `common_code_key`: the same PIN on each (given,
   * or one generated that none of them has), all stored in one transaction. A lock where
   * the PIN is taken refuses the whole call (`throw`, the default) or gets a random PIN
   * of its own (`create_random_code`).
   */
  route(
    '/access_codes/create_multiple',
    async (body) => {
      const input = parseInput(createMultipleInput, body);
      const targets: DeviceRow[] = [];
      for (const id of new Set(input.device_ids)) targets.push(await device(id));
      if (input.code !== undefined && input.preferred_code_length !== undefined)
        throw new SeamInputError(
          'preferred_code_length',
          'preferred_code_length: only when code is left out',
        );
      const length = input.preferred_code_length ?? GENERATED_CODE_LENGTH;
      const freeOnAll = async (code: string) => {
        for (const t of targets) if (await pinTaken(store, t.device_id, code)) return false;
        return true;
      };
      let shared = input.code;
      for (let attempt = 0; shared === undefined && attempt < 100; attempt++) {
        const candidate = await generateCode(store, targets[0]!.device_id, length);
        if (await freeOnAll(candidate)) shared = candidate;
      }
      const window = windowOf(input.starts_at, input.ends_at);
      const commonCodeKey = randomUUID();
      const created = await store.sql.transaction(async () => {
        const rows: AccessCodeRow[] = [];
        for (const target of targets) {
          let code = shared;
          if (code === undefined || (await pinTaken(store, target.device_id, code))) {
            if (input.behavior_when_code_cannot_be_shared !== 'create_random_code')
              throw new SeamInputError(
                'code',
                `code: cannot be shared: device ${target.seam_device_id} has an access code with it`,
                'duplicate_access_code',
              );
            code = await generateCode(store, target.device_id, length);
          }
          const { row, revision } = await createAccessCode(store, await deviceOf(target), {
            name: input.name ?? null,
            code,
            ...window,
            isOneTimeUse: false,
            allowExternalModification: externalModification(input) ?? false,
            commonCodeKey,
          });
          await startActionAttempt(store, {
            type: 'CREATE_ACCESS_CODE',
            deviceId: target.device_id,
            accessCodeId: row.access_code_id,
            awaitedRevision: revision,
          });
          rows.push(row);
        }
        return rows;
      });
      const answer = [];
      for (const row of created) answer.push(await toSeamAccessCode(store, row, await deviceOf(row)));
      for (const target of targets) publish(target.device_id);
      return { access_codes: answer };
    },
    ['POST', 'PUT'],
  );

  /** A PIN no code of the lock has (CSPRNG), as an access code that is not created. */
  route('/access_codes/generate_code', async (body) => {
    const target = await device(parseInput(generateCodeInput, body).device_id);
    const now = Date.now();
    return {
      generated_code: {
        access_code_id: randomUUID(),
        device_id: target.seam_device_id,
        workspace_id: store.workspace.workspaceId,
        name: null,
        code: await generateCode(store, target.device_id),
        common_code_key: null,
        type: 'ongoing' as const,
        status: 'unset' as const,
        created_at: new Date(now).toISOString(),
        errors: [],
        warnings: [],
        is_managed: true as const,
        is_scheduled_on_device: false,
        is_waiting_for_code_assignment: false,
        is_backup_access_code_available: false,
        is_external_modification_allowed: false,
        is_one_time_use: false,
        is_offline_access_code: false,
        pulled_backup_access_code_id: null,
      },
    };
  });

  route('/access_codes/get', async (body) => {
    const input = parseInput(accessCodeGetInput, body);
    let row: AccessCodeRow | undefined;
    if (input.access_code_id !== undefined) row = await accessCode(input.access_code_id);
    else if (input.device_id !== undefined && input.code !== undefined) {
      const target = await device(input.device_id);
      row = (await listAccessCodes(store, { deviceId: target.device_id })).find((c) => c.code === input.code);
      if (!row) throw notFound('access_code', 'with that code on this device');
    } else throw new SeamInputError('access_code_id', 'access_code_id: required (or device_id and code)');
    if (input.device_id !== undefined && (await device(input.device_id)).device_id !== row.device_id)
      throw notFound('access_code', input.access_code_id ?? '');
    return { access_code: await toSeamAccessCode(store, row, await deviceOf(row)) };
  });

  route('/access_codes/list', async (body) => {
    const input = parseInput(accessCodeListInput, body);
    if (input.device_id === undefined && input.access_code_ids === undefined)
      throw new SeamInputError('device_id', 'device_id: required (or access_code_ids)');
    const deviceId = input.device_id === undefined ? undefined : (await device(input.device_id)).device_id;
    const rows = await listAccessCodes(store, {
      ...(deviceId !== undefined ? { deviceId } : {}),
      ...(input.access_code_ids ? { ids: input.access_code_ids } : {}),
    });
    // One device row per lock for the whole answer (its report is parsed once, its
    // backup pool asked once), then the objects without a query each.
    const owners = new Map<string, { owner: DeviceRow; backup: boolean }>();
    for (const row of rows) {
      if (owners.has(row.device_id)) continue;
      const owner = await deviceOf(row);
      const pooled = rows.some((r) => r.device_id === row.device_id && r.use_backup_pool === 1);
      owners.set(row.device_id, { owner, backup: pooled && (await backupAvailable(store, owner)) });
    }
    return {
      access_codes: rows.map((row) => {
        const { owner, backup } = owners.get(row.device_id)!;
        return seamAccessCode(store, row, owner, backup);
      }),
      pagination: ONE_PAGE,
    };
  });

  route(
    '/access_codes/update',
    async (body) => {
      const input = parseInput(accessCodeUpdateInput, body);
      const current = await accessCode(input.access_code_id);
      if (current.offline_fingerprint !== null)
        throw new SeamInputError(
          'access_code_id',
          'access_code_id: an offline code carries its window in its digits; delete it and create another',
        );
      const target = await deviceOf(current);
      if (input.device_id !== undefined && (await device(input.device_id)).device_id !== current.device_id)
        throw new SeamInputError('device_id', 'device_id: the access code belongs to another device');
      if (current.removed_revision !== null)
        throw new SeamInputError('access_code_id', 'access_code_id: the access code is being deleted');
      const windowGiven = input.starts_at !== undefined || input.ends_at !== undefined;
      if (input.type === 'ongoing' && windowGiven)
        throw new SeamInputError('type', 'type: ongoing codes take no starts_at or ends_at');
      let window = { startsAt: current.starts_at, endsAt: current.ends_at };
      if (input.type === 'ongoing') window = { startsAt: null, endsAt: null };
      else if (windowGiven) {
        const merged = windowOf(
          input.starts_at ??
            (current.starts_at === null ? undefined : new Date(current.starts_at).toISOString()),
          input.ends_at ?? (current.ends_at === null ? undefined : new Date(current.ends_at).toISOString()),
        );
        window = merged;
      } else if (input.type === 'time_bound' && current.starts_at === null)
        throw new SeamInputError('starts_at', 'starts_at: required to make a code time_bound');
      const { row, revision } = await updateAccessCode(store, target, current, {
        name: input.name ?? current.name,
        code: input.code ?? current.code,
        ...window,
        isOneTimeUse: input.is_one_time_use ?? current.is_one_time_use === 1,
        allowExternalModification: externalModification(input) ?? current.allow_external_modification === 1,
      });
      const attemptId = await startActionAttempt(store, {
        type: 'UPDATE_ACCESS_CODE',
        deviceId: target.device_id,
        accessCodeId: row.access_code_id,
        awaitedRevision: revision,
      });
      const answer = { action_attempt: toSeamActionAttempt((await actionAttemptById(store, attemptId))!) };
      publish(target.device_id);
      return answer;
    },
    ['POST', 'PUT', 'PATCH'],
  );

  route('/access_codes/delete', async (body) => {
    const input = parseInput(accessCodeDeleteInput, body);
    const current = await accessCode(input.access_code_id);
    if (input.device_id !== undefined && (await device(input.device_id)).device_id !== current.device_id)
      throw notFound('access_code', input.access_code_id);
    if (current.removed_revision !== null)
      throw new SeamInputError('access_code_id', 'access_code_id: the access code is already being deleted');
    const target = await deviceOf(current);
    if (current.offline_fingerprint !== null) {
      // An offline code is revoked on the lock (kept until its end, so it cannot return).
      const { id, done } = await gateway.startCommand(
        target,
        {
          type: 'DELETE_ACCESS_CODE',
          name: 'revoke_offline',
          args: {
            fingerprint: current.offline_fingerprint,
            ...(current.ends_at !== null ? { expires_at: new Date(current.ends_at).toISOString() } : {}),
          },
          accessCodeId: current.access_code_id,
        },
        () => forgetOfflineCode(store, current),
      );
      if (input.sync) await done;
      return { action_attempt: toSeamActionAttempt((await actionAttemptById(store, id))!) };
    }
    if (input.sync)
      throw new SeamInputError(
        'sync',
        'sync: only for offline codes; a deletion waits for the lock report (poll its action attempt)',
      );
    const revision = await removeAccessCode(store, target, current);
    const attemptId = await startActionAttempt(store, {
      type: 'DELETE_ACCESS_CODE',
      deviceId: target.device_id,
      accessCodeId: current.access_code_id,
      awaitedRevision: revision,
    });
    const answer = { action_attempt: toSeamActionAttempt((await actionAttemptById(store, attemptId))!) };
    publish(target.device_id);
    return answer;
  });

  route('/access_codes/pull_backup_access_code', async (body) => {
    const input = parseInput(pullBackupInput, body);
    const current = await accessCode(input.access_code_id);
    const owner = await deviceOf(current);
    const { backup, revision } = await pullBackupCode(store, owner, current);
    if (revision !== null) publish(owner.device_id);
    // Seam answers the backup code under both keys (the SDK reads `access_code`).
    const answer = await toSeamAccessCode(store, backup, owner);
    return { access_code: answer, backup_access_code: answer };
  });

  /**
   * Unmanaged codes are read from the lock's listing; with the lock online it is asked
   * again first, so the answer is what the lock holds now.
   */
  const freshListing = async (target: DeviceRow): Promise<DeviceRow> => {
    if (target.online === 1) await gateway.refreshLockCodes(target.device_id);
    return deviceOf(target);
  };
  const unmanaged = async (id: string) => {
    const row = await unmanagedById(store, id);
    if (!row) throw notFound('access_code', id);
    const owner = await freshListing(await deviceOf(row));
    const found = (await unmanagedCodes(store, owner)).find((u) => u.row.access_code_id === id);
    if (!found) throw notFound('access_code', id);
    return { ...found, owner };
  };
  route('/access_codes/unmanaged/list', async (body) => {
    const input = parseInput(unmanagedListInput, body);
    const owner = await freshListing(await device(input.device_id));
    return {
      access_codes: (await unmanagedCodes(store, owner)).map(({ row, code }) =>
        toSeamUnmanagedCode(store, row, code, owner),
      ),
      pagination: ONE_PAGE,
    };
  });
  route('/access_codes/unmanaged/get', async (body) => {
    const input = parseInput(unmanagedGetInput, body);
    const { row, code, owner } = await unmanaged(input.access_code_id);
    if (input.device_id !== undefined && (await device(input.device_id)).device_id !== owner.device_id)
      throw notFound('access_code', input.access_code_id);
    return { access_code: toSeamUnmanagedCode(store, row, code, owner) };
  });
  route('/access_codes/unmanaged/delete', async (body) => {
    const input = parseInput(unmanagedDeleteInput, body);
    const { row, owner } = await unmanaged(input.access_code_id);
    const { id, done } = await gateway.startCommand(
      owner,
      {
        type: 'DELETE_ACCESS_CODE',
        name: 'remove_code',
        args: { id: row.lock_code_id },
        accessCodeId: row.access_code_id,
      },
      () => gateway.refreshLockCodes(owner.device_id),
    );
    if (input.sync) await done;
    return { action_attempt: toSeamActionAttempt((await actionAttemptById(store, id))!) };
  });

  /**
   * convert_to_managed, and unmanaged/update with is_managed: true (Seam's two ways): the
   * lock adopts its own code in the next revision (gateway/seam/convert.ts). `force` (to
   * take a code from another workspace) changes nothing: this gateway is the only one.
   */
  const convert = async (input: {
    access_code_id: string;
    allow_external_modification?: boolean | undefined;
    is_external_modification_allowed?: boolean | undefined;
  }) => {
    const allow = externalModification(input) ?? false;
    const { row, code, owner } = await unmanaged(input.access_code_id);
    await convertToManaged(store, owner, row, code, allow);
    publish(owner.device_id);
    return {};
  };
  route(
    '/access_codes/unmanaged/convert_to_managed',
    async (body) => {
      const input = parseInput(unmanagedConvertInput, body);
      if (input.sync)
        throw new SeamInputError(
          'sync',
          'sync: not implemented; the code is managed once the lock reports it (access_code.unmanaged.converted_to_managed)',
        );
      return convert(input);
    },
    ['POST', 'PATCH'],
  );
  route(
    '/access_codes/unmanaged/update',
    async (body) => {
      const input = parseInput(unmanagedUpdateInput, body);
      if (!input.is_managed)
        throw new SeamInputError(
          'is_managed',
          'is_managed: only true is implemented (it converts the code, as convert_to_managed)',
        );
      return convert(input);
    },
    ['POST', 'PATCH'],
  );

  route('/events/list', async (body) => {
    const input = parseInput(eventListInput, body);
    const types = [...(input.event_types ?? []), ...(input.event_type ? [input.event_type] : [])];
    for (const type of types)
      if (!(EVENT_TYPES as readonly string[]).includes(type))
        throw new SeamInputError(
          'event_type',
          `event_type: ${JSON.stringify(type)} is not one this gateway produces`,
        );
    if (input.since !== undefined && input.between !== undefined)
      throw new SeamInputError('between', 'between: give since or between, not both');
    const seamDeviceIds = [...(input.device_ids ?? []), ...(input.device_id ? [input.device_id] : [])];
    const accessCodeIds = [
      ...(input.access_code_ids ?? []),
      ...(input.access_code_id ? [input.access_code_id] : []),
    ];
    const deviceIds: string[] = [];
    for (const id of seamDeviceIds) deviceIds.push((await device(id)).device_id);
    const events = await listSeamEvents(store, {
      ...(deviceIds.length ? { deviceIds } : {}),
      ...(accessCodeIds.length ? { accessCodeIds } : {}),
      ...(types.length ? { eventTypes: types } : {}),
      ...(input.since !== undefined ? { since: Date.parse(input.since) } : {}),
      ...(input.between ? { since: Date.parse(input.between[0]), until: Date.parse(input.between[1]) } : {}),
      limit: input.limit ?? 500,
    });
    return { events };
  });

  const checkEventTypes = (types: string[]) => {
    for (const type of types)
      if (type !== '*' && !(EVENT_TYPES as readonly string[]).includes(type))
        throw new SeamInputError(
          'event_types',
          `event_types: ${JSON.stringify(type)} is not one this gateway produces`,
        );
    return types;
  };
  const webhook = async (id: string) => {
    const found = await webhookById(store, id);
    if (!found) throw notFound('webhook', id);
    return found;
  };
  route('/webhooks/create', async (body) => {
    const input = parseInput(webhookCreateInput, body);
    return {
      webhook: toSeamWebhook(
        await createWebhook(store, input.url, checkEventTypes(input.event_types ?? ['*'])),
      ),
    };
  });
  route('/webhooks/get', async (body) => ({
    webhook: toSeamWebhook(await webhook(parseInput(webhookIdInput, body).webhook_id)),
  }));
  route(
    '/webhooks/list',
    async (body) => {
      parseInput(webhookListInput, body);
      return { webhooks: (await listWebhooks(store)).map(toSeamWebhook) };
    },
    ['GET', 'POST'],
  );
  route(
    '/webhooks/update',
    async (body) => {
      const input = parseInput(webhookUpdateInput, body);
      await updateWebhookEventTypes(
        store,
        (await webhook(input.webhook_id)).webhook_id,
        checkEventTypes(input.event_types),
      );
      return {};
    },
    ['POST', 'PUT', 'PATCH'],
  );
  route('/webhooks/delete', async (body) => {
    await deleteWebhook(store, (await webhook(parseInput(webhookIdInput, body).webhook_id)).webhook_id);
    return {};
  });

  route('/events/get', async (body) => {
    const input = parseInput(eventGetInput, body);
    const row = await eventById(store, input.event_id);
    const owner = row && (await deviceByLockId(store, row.device_id));
    if (!row || !owner) throw notFound('event', input.event_id);
    return { event: toSeamEvent(store, row, owner) };
  });
}
