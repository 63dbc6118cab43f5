import { useAccessCodes } from '@seamapi/react';

/**
 * Each access code of the lock with its Seam status (setting, set, unset, removing) and
 * its errors and warnings: the one thing the Seam Components do not show as words.
 */
export function CodeStatuses({ deviceId }: { deviceId: string }) {
  const { accessCodes } = useAccessCodes({ device_id: deviceId });
  return (
    <div className="console-panel">
      <h3>Code status</h3>
      {accessCodes === undefined ? (
        <p className="console-muted">Loading…</p>
      ) : accessCodes.length === 0 ? (
        <p className="console-muted">No access codes yet.</p>
      ) : (
        <ul className="code-statuses">
          {accessCodes.map((code) => (
            <li key={code.access_code_id} data-testid="code-status" data-name={code.name ?? ''}>
              <span className="code-name">{code.name ?? code.access_code_id.slice(0, 8)}</span>
              <span className={`code-status status-${code.status}`} data-status={code.status}>
                {code.status}
              </span>
              {[...code.errors, ...code.warnings].map((issue) => (
                <span
                  key={'error_code' in issue ? issue.error_code : issue.warning_code}
                  className="code-issue"
                >
                  {issue.message}
                </span>
              ))}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
