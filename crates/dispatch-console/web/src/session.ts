// Who is signed in, and what the server lets them do. What to show comes from the server's own
// role table (GetCurrentPrincipal's permitted_methods), never from a copy of it in the console.
import { useEffect, useState } from "preact/hooks";
import { api, refusal, setToken, currentToken, type Refusal } from "./api";
import type { Principal } from "./gen/dispatch/v1/principal_pb";

export interface Session {
  principal: Principal;
  /** Full method names this principal may call, e.g. "dispatch.v1.UnitAssignmentService/AssignUnits". */
  permitted: Set<string>;
}

let session: Session | null = null;
const listeners = new Set<() => void>();

function changed(): void {
  for (const listener of listeners) listener();
}

export function currentSession(): Session | null {
  return session;
}

/** Whether the signed-in principal may call `method` ("Service/Method", package omitted). */
export function may(method: string): boolean {
  return session?.permitted.has(`dispatch.v1.${method}`) ?? false;
}

/** Signs in with a bearer token; the refusal when the server does not accept it. */
export async function signIn(token: string): Promise<Refusal | null> {
  setToken(token);
  try {
    const response = await api.directory.getCurrentPrincipal({});
    if (response.principal === undefined) throw new Error("no principal in the response");
    session = { principal: response.principal, permitted: new Set(response.permittedMethods) };
    changed();
    return null;
  } catch (error) {
    setToken(null);
    session = null;
    changed();
    return refusal(error);
  }
}

export function signOut(): void {
  setToken(null);
  session = null;
  changed();
}

/** Restores the tab's session after a reload (the token is kept for this tab only). */
export async function resume(): Promise<void> {
  const token = currentToken();
  if (token !== null) await signIn(token);
}

export function useSession(): Session | null {
  const [, set] = useState(0);
  useEffect(() => {
    const listener = () => set((n) => n + 1);
    listeners.add(listener);
    return () => void listeners.delete(listener);
  }, []);
  return session;
}
