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
  'InvalidAliasNameException',
  'InvalidMarkerException',
  'InvalidImportTokenException',
  'IncorrectKeyMaterialException',
  'ExpiredImportTokenException',
  'UnsupportedOperationException',
  'LimitExceededException',
  'TagException',
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

/** A failure with a stable, client-facing code and a message that says what to fix. */
export class ServiceError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = code;
  }
}

export function isServiceError(err: unknown): err is ServiceError {
  return err instanceof ServiceError;
}

/** Shorthand for the most common case: bad input. */
export function invalid(message: string): ServiceError {
  return new ServiceError('ValidationException', message);
}
