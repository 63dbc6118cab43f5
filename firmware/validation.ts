import type { z } from 'zod';

/** One line naming each bad field and what it must be: "codes[0].pin: must be 4 to 10 digits". */
export function describeZodError(error: z.ZodError, prefix = ''): string {
  return error.issues
    .map((issue) => {
      const path = issue.path
        .map((part, index) =>
          typeof part === 'number' ? `[${part}]` : index === 0 ? String(part) : `.${String(part)}`,
        )
        .join('');
      const where = [prefix, path].filter(Boolean).join(path.startsWith('[') ? '' : '.');
      return where ? `${where}: ${issue.message}` : issue.message;
    })
    .join('; ');
}
