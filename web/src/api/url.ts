/**
 * The address bar's query as it is now. React Router renders a navigation in a transition, so
 * the `params` of useSearchParams can still be the previous render's when a second control
 * changes right after a first (a keyboard user, a slow machine): a copy of those would undo
 * the first change. The browser's URL is updated at once by every navigate().
 */
export function currentSearchParams(): URLSearchParams {
  return new URLSearchParams(window.location.search);
}
