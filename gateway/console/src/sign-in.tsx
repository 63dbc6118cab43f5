import { type FormEvent, useState } from 'react';
import { type ConsoleSession, refusal, signIn } from './session.ts';

/**
 * Sign-in: a publishable key and a user identifier (what a property manager is given),
 * or an API key typed once (exchanged at once for a client session; the key is not kept).
 */
export function SignIn({
  notice,
  onSignedIn,
}: {
  /** Why the last session ended, if it did. */
  notice: string | null;
  onSignedIn: (session: ConsoleSession) => void;
}) {
  const [mode, setMode] = useState<'publishable_key' | 'api_key'>('publishable_key');
  const [error, setError] = useState<string | null>(notice);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const field = (name: string) => String(form.get(name) ?? '').trim();
    setBusy(true);
    setError(null);
    try {
      onSignedIn(
        await signIn(
          mode === 'publishable_key'
            ? {
                kind: 'publishable_key',
                publishableKey: field('publishable_key'),
                userIdentifierKey: field('user_identifier_key'),
              }
            : { kind: 'api_key', apiKey: field('api_key') },
        ),
      );
    } catch (caught) {
      setError(refusal(caught));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="sign-in">
      <h1>Tumbler console</h1>
      <p>The locks of this gateway, their access codes and what happened at their doors.</p>
      <div className="sign-in-modes" role="tablist">
        <button
          type="button"
          role="tab"
          aria-selected={mode === 'publishable_key'}
          onClick={() => setMode('publishable_key')}
        >
          Publishable key
        </button>
        <button
          type="button"
          role="tab"
          aria-selected={mode === 'api_key'}
          onClick={() => setMode('api_key')}
        >
          API key
        </button>
      </div>
      <form onSubmit={submit} autoComplete="off">
        {mode === 'publishable_key' ? (
          <>
            <label>
              Publishable key
              <input name="publishable_key" required placeholder="seam_pk..." spellCheck={false} />
            </label>
            <label>
              User identifier
              <input
                name="user_identifier_key"
                required
                placeholder="e.g. your staff id"
                spellCheck={false}
              />
            </label>
          </>
        ) : (
          <label>
            API key (used once to open a session, not kept)
            <input name="api_key" type="password" required placeholder="seam_..." spellCheck={false} />
          </label>
        )}
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      {error && (
        <p className="sign-in-refused" role="alert">
          {error}
        </p>
      )}
      <p className="sign-in-help">
        Make a key on the gateway: <code>lockctl api-key create --publishable --name console</code>
      </p>
    </main>
  );
}
