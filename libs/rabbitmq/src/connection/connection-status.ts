/** The life of a connection: `connecting` until the first connect, then `connected` / `disconnected`, `closed` after `close()`. */
export type ConnectionStatus = 'connecting' | 'connected' | 'disconnected' | 'closed';
