import { ServiceError, dependencyFailure, isErrorCode } from '../../errors';

/**
 * Turns whatever the AWS SDK threw into a ServiceError: AWS exception names Coffer knows pass
 * through unchanged (so clients see the AWS word); anything else becomes BadGatewayException
 * in plain words (the dependency's own error, with its network detail, is only the cause, which
 * the log shows), never a crash.
 */
export function fromAwsError(err: unknown): ServiceError {
  if (err instanceof ServiceError) return err;
  const name = (err as { name?: unknown })?.name;
  const message = (err as { message?: unknown })?.message;
  if (typeof name === 'string' && isErrorCode(name) && name !== 'InternalError') {
    return new ServiceError(name, typeof message === 'string' ? message : name);
  }
  if (name === 'NotAuthorizedException' || name === 'AccessDeniedException') {
    return new ServiceError('AccessDeniedException', typeof message === 'string' ? message : 'access denied by AWS KMS');
  }
  return new ServiceError('BadGatewayException', dependencyFailure('AWS KMS', err), { cause: err });
}

/** A required member missing from an AWS answer is the dependency's fault: 502, not a crash. */
export function required<T>(value: T | undefined | null, what: string): T {
  if (value === undefined || value === null) {
    throw new ServiceError('BadGatewayException', `AWS KMS answered without ${what}`);
  }
  return value;
}
