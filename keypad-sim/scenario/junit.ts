import type { ScenarioResult } from './runner.ts';

function escapeXml(text: string): string {
  return (
    text
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      // XML 1.0 forbids most control characters, even escaped.
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '')
  );
}

/** JUnit XML (the Surefire dialect CI systems read): one testcase per scenario. */
export function toJUnit(results: ScenarioResult[], suiteName = 'keypad-sim scenarios'): string {
  const failures = results.filter((r) => !r.ok && !r.invalid).length;
  const errors = results.filter((r) => r.invalid).length;
  const seconds = (ms: number) => (ms / 1000).toFixed(3);
  const total = results.reduce((sum, r) => sum + r.durationMs, 0);
  const cases = results.map((r) => {
    const open = `  <testcase classname="${escapeXml(r.file)}" name="${escapeXml(r.name)}" time="${seconds(r.durationMs)}"`;
    if (r.invalid)
      return `${open}>\n    <error message="${escapeXml(r.invalid)}" type="invalid_scenario"/>\n  </testcase>`;
    if (!r.ok && r.failure) {
      const message = `step ${r.failure.step}: ${r.failure.message}`;
      return `${open}>\n    <failure message="${escapeXml(message)}" type="expectation">${escapeXml(r.log.join('\n'))}</failure>\n  </testcase>`;
    }
    return `${open}/>`;
  });
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites tests="${results.length}" failures="${failures}" errors="${errors}" time="${seconds(total)}">`,
    `<testsuite name="${escapeXml(suiteName)}" tests="${results.length}" failures="${failures}" errors="${errors}" time="${seconds(total)}">`,
    ...cases,
    '</testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}
