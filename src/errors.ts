/**
 * The catalogue of unixid's own (non-protocol) errors. Protocol errors use oidc-provider's
 * `errors.*`. Each code has an HTTP status and says whether its message may be shown to a client;
 * everything else about a failure goes to the log only.
 */
export const ERRORS = {
  BACKEND_UNAVAILABLE: { status: 503, expose: true, message: 'Login is temporarily unavailable. Please try again in a moment.' },
  DIRECTORY_UNAVAILABLE: { status: 503, expose: true, message: 'Account lookup is temporarily unavailable. Please try again in a moment.' },
  STORE_UNAVAILABLE: { status: 503, expose: true, message: 'The session store is temporarily unavailable. Please try again in a moment.' },
  BAD_REQUEST: { status: 400, expose: true, message: 'The request is malformed.' },
  NOT_FOUND: { status: 404, expose: true, message: 'Not found.' },
  PAYLOAD_TOO_LARGE: { status: 413, expose: true, message: 'The request is too large.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, expose: true, message: 'Unsupported content type.' },
  CONFIG_INVALID: { status: 500, expose: false, message: 'The configuration is invalid.' },
  INTERNAL: { status: 500, expose: false, message: 'Something went wrong on our side.' },
} as const satisfies Record<string, { status: number; expose: boolean; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** An error from the catalogue; `detail` is for the log, `message` (when exposed) for the user. */
export class UnixidError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly expose: boolean;
  readonly detail: string | undefined;

  constructor(code: ErrorCode, detail?: string, options?: { cause?: unknown; message?: string }) {
    const entry = ERRORS[code];
    super(options?.message ?? entry.message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'UnixidError';
    this.code = code;
    this.status = entry.status;
    this.expose = entry.expose;
    this.detail = detail;
  }
}

/** A credential backend or directory could not answer (as opposed to answering "no"). */
export class BackendUnavailableError extends UnixidError {
  constructor(detail: string, options?: { cause?: unknown }) {
    super('BACKEND_UNAVAILABLE', detail, options);
    this.name = 'BackendUnavailableError';
  }
}

/** The client went away while its login still waited for the backend, which therefore never ran. */
export class LoginAbandonedError extends Error {
  constructor(options?: { cause?: unknown }) {
    super('the client went away before the backend ran', options);
    this.name = 'LoginAbandonedError';
  }
}

/** Directory lookups (NSS, LDAP groups) failed or timed out. */
export class DirectoryUnavailableError extends UnixidError {
  constructor(detail: string, options?: { cause?: unknown }) {
    super('DIRECTORY_UNAVAILABLE', detail, options);
    this.name = 'DirectoryUnavailableError';
  }
}
