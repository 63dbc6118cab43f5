import { SeamHttp } from '@seamapi/http/connect';

/**
 * Signing in turns what the person typed into a client session token, the one
 * credential the console keeps (in this tab's sessionStorage): a publishable key and a
 * user identifier through `client_sessions/get_or_create`, or an API key through
 * `client_sessions/create`. The API key itself is used for that one request and never
 * stored.
 */
export interface ConsoleSession {
  token: string;
  userIdentifierKey: string;
}

const STORAGE_KEY = 'tumbler-console-session';

export type Credentials =
  | { kind: 'publishable_key'; publishableKey: string; userIdentifierKey: string }
  | { kind: 'api_key'; apiKey: string };

export const endpoint = (): string => window.location.origin;

export async function signIn(credentials: Credentials): Promise<ConsoleSession> {
  const session =
    credentials.kind === 'publishable_key'
      ? await (
          await SeamHttp.fromPublishableKey(credentials.publishableKey, credentials.userIdentifierKey, {
            endpoint: endpoint(),
          })
        ).clientSessions.get()
      : await SeamHttp.fromApiKey(credentials.apiKey, { endpoint: endpoint() }).clientSessions.create({
          user_identifier_key: 'console',
        });
  const signedIn = { token: session.token, userIdentifierKey: session.user_identifier_key ?? '' };
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(signedIn));
  return signedIn;
}

export function storedSession(): ConsoleSession | null {
  try {
    const stored = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? 'null') as ConsoleSession | null;
    return stored && typeof stored.token === 'string' ? stored : null;
  } catch {
    return null;
  }
}

export function signOut(): void {
  sessionStorage.removeItem(STORAGE_KEY);
}

/**
 * One line for a refused sign-in: what the gateway said, and what to do about it. (The
 * SDK's error classes are told apart by their fields: the bundle renames the classes.)
 */
export function refusal(error: unknown): string {
  const { statusCode, message = String(error) } = error as { statusCode?: unknown; message?: string };
  if (statusCode === 401)
    return 'The gateway refused this key (401): it is not a key it issued, or it was revoked. Make one with lockctl api-key create.';
  const invalidToken = 'SeamHttp received an invalid token: ';
  if (message.startsWith(invalidToken)) return `That is not a key: ${message.slice(invalidToken.length)}`;
  if (typeof statusCode === 'number') return `The gateway refused the sign-in (${statusCode}): ${message}`;
  return `The gateway could not be reached: ${message}`;
}
