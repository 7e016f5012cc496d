// The signed-in session as the views read it: the role (what to show), the
// node's security (TLS, insecure mode) and sign-out. The App provides it.

import { createContext, useContext } from 'react';

import { can, type Action, type Role, type Session } from '../lib/auth';

export interface SessionInfo {
  session: Session;
  /** The role the page acts with: ADMIN when the node needs no key. */
  role: Role;
  /** Forgets the key and returns to the sign-in screen (only when the node needs a key). */
  signOut(): void;
}

/** No key needed, every action allowed: for views rendered without a session (tests, previews). */
const OPEN: SessionInfo = {
  session: { authRequired: false, authenticated: false, role: 'ADMIN', insecure: false, tls: false, warnings: [] },
  role: 'ADMIN',
  signOut() {},
};

export const SessionContext = createContext<SessionInfo>(OPEN);

export function useSession(): SessionInfo {
  return useContext(SessionContext);
}

/** Whether the signed-in role may do the action: the views hide what it may not. */
export function useCan(action: Action): boolean {
  return can(useSession().role, action);
}
