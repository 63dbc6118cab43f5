import { useCreateAccessCode } from '@seamapi/react';
import { type FormEvent, useState } from 'react';

const HOUR = 3_600_000;
const WINDOWS = [2, 4, 8, 24, 48, 72, 168];

/**
 * An offline code (docs/offline-codes.md): the gateway computes it from the lock's key,
 * and the lock checks it with its own clock, so it opens even while the lock is offline.
 * Seam's create form has no such option; this one asks `access_codes/create` with
 * `is_offline_access_code`, from now (rounded down to the hour) for the chosen hours.
 * The digits are shown once, as the API answers them.
 */
export function OfflineCodeForm({ deviceId, onBack }: { deviceId: string; onBack: () => void }) {
  const { mutate, isPending, data, error } = useCreateAccessCode();
  const [submitted, setSubmitted] = useState(false);

  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const now = Date.now();
    const hours = Number(form.get('hours'));
    setSubmitted(true);
    mutate({
      device_id: deviceId,
      name: String(form.get('name') ?? '').trim(),
      is_offline_access_code: true,
      starts_at: new Date(now).toISOString(),
      ends_at: new Date(now + hours * HOUR).toISOString(),
      max_time_rounding: '1hour',
      ...(form.get('one_time') === 'on' ? { is_one_time_use: true } : {}),
    });
  };

  return (
    <div className="console-panel offline-code-form">
      <h3>New offline code</h3>
      <p className="console-muted">
        Computed by the gateway from the lock's key; the lock checks it with its own clock, so it also opens
        while the lock is offline. It cannot be changed afterwards, only deleted.
      </p>
      <form onSubmit={submit} autoComplete="off">
        <label>
          Name
          <input name="name" required maxLength={60} />
        </label>
        <label>
          Valid from now for
          <select name="hours" defaultValue="24">
            {WINDOWS.map((hours) => (
              <option key={hours} value={hours}>
                {hours} hours
              </option>
            ))}
          </select>
        </label>
        <label className="offline-one-time">
          <input type="checkbox" name="one_time" /> Opens once
        </label>
        <div className="offline-actions">
          <button type="button" className="console-action" onClick={onBack}>
            Back
          </button>
          <button type="submit" className="console-action" disabled={isPending}>
            Issue offline code
          </button>
        </div>
      </form>
      {submitted && error && (
        <p className="offline-refused" role="alert">
          The gateway refused the offline code: {error.message}
        </p>
      )}
      {data && (
        <p className="offline-issued" data-testid="offline-code" data-code={data.code ?? ''}>
          “{data.name}”: <strong>{data.code}</strong>, valid{' '}
          {data.starts_at ? `from ${new Date(data.starts_at).toLocaleString()}` : ''}
          {data.ends_at ? ` until ${new Date(data.ends_at).toLocaleString()}` : ''}
        </p>
      )}
    </div>
  );
}
