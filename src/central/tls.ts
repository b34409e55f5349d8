/**
 * Central's TLS: the local CA and server certificate made at first start, the user's own
 * certificate, and where to listen (plain HTTP only on loopback). The pieces are in tls/.
 */
export { ensureLocalTls, RENEW_BEFORE_DAYS, type LocalTls, type LocalTlsOptions } from './tls/local.js';
export { loadUserTls, type UserTls } from './tls/user.js';
export {
  resolveListen,
  isLoopbackHost,
  DEFAULT_LISTEN_HOST,
  DEFAULT_LISTEN_PORT,
  type ListenAddress,
} from './tls/listen.js';
