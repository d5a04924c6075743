/**
 * Errors that services throw. A service never picks an HTTP status: it names what went wrong with
 * the AWS exception name (or S3 error code) and `src/routes/error-status.ts` maps the name to a status.
 */
export const errorCodes = [
  // request shape and auth
  'ValidationException',
  'UnauthorizedException',
  'AccessDeniedException',
  'InvalidSignatureException',
  'IncompleteSignatureException',
  'MissingAuthenticationTokenException',
  'UnrecognizedClientException',
  'UnknownOperationException',
  'SerializationException',
  'PayloadTooLarge',
  // KMS
  'NotFoundException',
  'AlreadyExistsException',
  'DisabledException',
  'KMSInvalidStateException',
  'InvalidCiphertextException',
  'IncorrectKeyException',
  'InvalidKeyUsageException',
  'KMSInvalidSignatureException',
  'KMSInvalidMacException',
  'DryRunOperationException',
  'InvalidAliasNameException',
  'InvalidMarkerException',
  'InvalidImportTokenException',
  'IncorrectKeyMaterialException',
  'ExpiredImportTokenException',
  'UnsupportedOperationException',
  'LimitExceededException',
  'TagException',
  'MalformedPolicyDocumentException',
  'InvalidLookupAttributesException',
  'InvalidGrantTokenException',
  'InvalidGrantIdException',
  'ConcurrentModificationException',
  'DependencyTimeoutException',
  'KMSInternalException',
  // S3 and objects
  'NoSuchBucket',
  'NoSuchKey',
  'BucketAlreadyExists',
  'BucketAlreadyOwnedByYou',
  'BucketNotEmpty',
  'InvalidBucketName',
  'KeyTooLongError',
  'InvalidRequest',
  'InvalidArgument',
  'AccessDenied',
  'InvalidDigest',
  'BadDigest',
  'PreconditionFailed',
  'OperationAborted',
  // the dependency behind an adapter answered something Coffer cannot map
  'BadGatewayException',
  'InternalError',
] as const;

export type ErrorCode = (typeof errorCodes)[number];

const known = new Set<string>(errorCodes);
export const isErrorCode = (name: string): name is ErrorCode => known.has(name);

/**
 * A failure with a stable, client-facing code and a message that says what to fix. The message
 * goes to the client; a `cause` (a dependency's own error, with its network detail) goes only
 * to the log.
 */
export class ServiceError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = code;
  }
}

export function isServiceError(err: unknown): err is ServiceError {
  return err instanceof ServiceError;
}

/** Shorthand for the most common case: bad input. */
/** A DryRun call that would have succeeded: AWS answers it with DryRunOperationException (412). */
export function dryRunRefusal(): ServiceError {
  return new ServiceError('DryRunOperationException', 'the request would have succeeded, but DryRun was set');
}

export function invalid(message: string): ServiceError {
  return new ServiceError('ValidationException', message);
}

/**
 * What a client may read of a dependency's failure: whether it could be reached and, if it
 * answered, the status and error name. Never its message, which may hold addresses or internals.
 */
export function dependencyFailure(dependency: string, err: unknown): string {
  const e = err as { name?: unknown; $metadata?: { httpStatusCode?: number } } | undefined;
  const status = e?.$metadata?.httpStatusCode;
  if (status === undefined) return `${dependency} could not be reached or did not answer: retry later`;
  const name = typeof e?.name === 'string' && /^[A-Za-z0-9]{1,64}$/.test(e.name) ? ` ${e.name}` : '';
  return `${dependency} answered ${status}${name}, which Coffer cannot map`;
}

/**
 * Why a call is refused when its audit event cannot be written: the unavailable database's own
 * 503 where that is the cause (the caller may retry), otherwise an internal error.
 */
export function unauditable(message: string, cause: unknown): ServiceError {
  if (isServiceError(cause) && cause.code === 'DependencyTimeoutException') return cause;
  return new ServiceError('InternalError', message, { cause });
}
