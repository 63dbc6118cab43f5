import {
  AccessCodeDetails,
  AccessCodeTable,
  CreateAccessCodeForm,
  DeviceDetails,
  DeviceTable,
  EditAccessCodeForm,
  SeamProvider,
} from '@seamapi/react';
import { QueryCache, QueryClient } from '@tanstack/react-query';
import { useEffect, useMemo, useRef, useState } from 'react';
import { CodeStatuses } from './code-statuses.tsx';
import { OfflineCodeForm } from './offline-code-form.tsx';
import { RecentEvents } from './recent-events.tsx';
import { type ConsoleSession, signOut, storedSession } from './session.ts';
import { SignIn } from './sign-in.tsx';

/** The views, addressed by the URL's hash so a view can be linked and reloaded. */
type View =
  | { name: 'locks' }
  | { name: 'lock'; deviceId: string }
  | { name: 'new-code'; deviceId: string }
  | { name: 'new-offline-code'; deviceId: string }
  | { name: 'code'; accessCodeId: string }
  | { name: 'edit-code'; accessCodeId: string };

function parseView(hash: string): View {
  const parts = hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  if (parts[0] === 'locks' && parts[1] && parts[2] === 'new-code')
    return { name: 'new-code', deviceId: parts[1] };
  if (parts[0] === 'locks' && parts[1] && parts[2] === 'new-offline-code')
    return { name: 'new-offline-code', deviceId: parts[1] };
  if (parts[0] === 'locks' && parts[1]) return { name: 'lock', deviceId: parts[1] };
  if (parts[0] === 'codes' && parts[1] && parts[2] === 'edit')
    return { name: 'edit-code', accessCodeId: parts[1] };
  if (parts[0] === 'codes' && parts[1]) return { name: 'code', accessCodeId: parts[1] };
  return { name: 'locks' };
}

const go = (path: string) => {
  window.location.hash = `#/${path}`;
};

function useView(): View {
  const [view, setView] = useState(() => parseView(window.location.hash));
  useEffect(() => {
    const changed = () => setView(parseView(window.location.hash));
    window.addEventListener('hashchange', changed);
    return () => window.removeEventListener('hashchange', changed);
  }, []);
  return view;
}

const SESSION_ENDED =
  'Your session ended (it expired, or the key that opened it was revoked): sign in again.';

export function App() {
  const [session, setSession] = useState<ConsoleSession | null>(storedSession);
  const [notice, setNotice] = useState<string | null>(null);
  const end = (why: string | null) => {
    signOut();
    setNotice(why);
    setSession(null);
  };
  if (!session)
    return (
      <SignIn
        notice={notice}
        onSignedIn={(signedIn) => {
          setNotice(null);
          setSession(signedIn);
        }}
      />
    );
  return <Console session={session} onSignOut={() => end(null)} onSessionEnded={() => end(SESSION_ENDED)} />;
}

function Console({
  session,
  onSignOut,
  onSessionEnded,
}: {
  session: ConsoleSession;
  onSignOut: () => void;
  onSessionEnded: () => void;
}) {
  // The components fetch once; the console polls so statuses (setting, then set), online
  // state and events follow the locks without a reload. A 401 means the token no longer
  // opens anything: back to sign-in, saying why.
  const sessionEnded = useRef(onSessionEnded);
  sessionEnded.current = onSessionEnded;
  const queryClient = useMemo(
    () =>
      new QueryClient({
        queryCache: new QueryCache({
          onError: (error) => {
            if ((error as { statusCode?: unknown }).statusCode === 401) sessionEnded.current();
          },
        }),
        defaultOptions: { queries: { refetchInterval: 1000, retry: 1 } },
      }),
    [],
  );
  const view = useView();
  return (
    <SeamProvider
      clientSessionToken={session.token}
      queryClient={queryClient}
      disableCssInjection
      disableFontInjection
      disableTelemetry
    >
      <header className="console-header">
        <a href="#/locks" className="console-title">
          Tumbler console
        </a>
        <span className="console-user" data-testid="signed-in-as">
          {session.userIdentifierKey}
        </span>
        <button type="button" className="console-sign-out" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <main className="console-main" data-view={view.name}>
        <ViewContent view={view} />
      </main>
    </SeamProvider>
  );
}

function ViewContent({ view }: { view: View }) {
  switch (view.name) {
    case 'locks':
      return (
        <section className="console-column console-wide">
          <DeviceTable
            heading="Locks"
            onDeviceClick={(deviceId) => go(`locks/${deviceId}`)}
            preventDefaultOnDeviceClick
          />
        </section>
      );
    case 'lock':
      return (
        <>
          <section className="console-column">
            <DeviceDetails deviceId={view.deviceId} onBack={() => go('locks')} disableCreateAccessCode />
          </section>
          <section className="console-column" data-testid="access-codes">
            <AccessCodeTable
              deviceId={view.deviceId}
              heading="Access codes"
              onAccessCodeClick={(accessCodeId) => go(`codes/${accessCodeId}`)}
              preventDefaultOnAccessCodeClick
              disableCreateAccessCode
            />
            <button
              type="button"
              className="console-action"
              onClick={() => go(`locks/${view.deviceId}/new-code`)}
            >
              New access code
            </button>
            <button
              type="button"
              className="console-action"
              onClick={() => go(`locks/${view.deviceId}/new-offline-code`)}
            >
              New offline code
            </button>
          </section>
          <section className="console-column">
            <CodeStatuses deviceId={view.deviceId} />
            <RecentEvents deviceId={view.deviceId} />
          </section>
        </>
      );
    case 'new-code':
      return (
        <section className="console-column console-wide">
          <CreateAccessCodeForm
            deviceId={view.deviceId}
            onBack={() => go(`locks/${view.deviceId}`)}
            onSuccess={() => go(`locks/${view.deviceId}`)}
          />
        </section>
      );
    case 'new-offline-code':
      return (
        <section className="console-column console-wide">
          <OfflineCodeForm deviceId={view.deviceId} onBack={() => go(`locks/${view.deviceId}`)} />
        </section>
      );
    case 'code':
      return (
        <section className="console-column console-wide">
          <AccessCodeDetails
            accessCodeId={view.accessCodeId}
            onBack={() => window.history.back()}
            onEdit={() => go(`codes/${view.accessCodeId}/edit`)}
            preventDefaultOnEdit
          />
        </section>
      );
    case 'edit-code':
      return (
        <section className="console-column console-wide">
          <EditAccessCodeForm
            accessCodeId={view.accessCodeId}
            onBack={() => go(`codes/${view.accessCodeId}`)}
            onSuccess={() => go(`codes/${view.accessCodeId}`)}
          />
        </section>
      );
  }
}
