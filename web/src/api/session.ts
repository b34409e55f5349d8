/**
 * The API token lives in sessionStorage only: gone when the tab closes, never in a URL, a
 * cookie or localStorage. A message survives the redirect to /login (expired token).
 */
const TOKEN_KEY = 'gatehouse.token';
const MESSAGE_KEY = 'gatehouse.loginMessage';

export const session = {
  token: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  signIn(token: string): void { sessionStorage.setItem(TOKEN_KEY, token); },
  signOut(message?: string): void {
    sessionStorage.removeItem(TOKEN_KEY);
    if (message) sessionStorage.setItem(MESSAGE_KEY, message);
  },
  /** The message left by the last sign-out, read once. */
  takeMessage(): string | null {
    const m = sessionStorage.getItem(MESSAGE_KEY);
    sessionStorage.removeItem(MESSAGE_KEY);
    return m;
  },
};
