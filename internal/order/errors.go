package order

import (
	"errors"
	"time"
)

// Errors the stores return. Adapters wrap them; test with errors.Is.
var (
	// ErrNotFound: no such record.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the record changed since it was read (optimistic concurrency), or a record
	// that was to be created already exists.
	ErrConflict = errors.New("conflict")
	// ErrLeaseHeld: someone else holds the lease.
	ErrLeaseHeld = errors.New("lease held by another holder")
)

// permanentError marks a failure that retrying cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as permanent: the job is dead-lettered instead of retried.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

// IsPermanent reports whether err (or an error it wraps) was marked Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// retryAfterError carries the wait a peer asked for (Retry-After).
type retryAfterError struct {
	err   error
	after time.Duration
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

// WithRetryAfter attaches the wait a peer asked for to a transient err.
func WithRetryAfter(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	return &retryAfterError{err, d}
}

// RetryAfter returns the wait attached by WithRetryAfter, or 0.
func RetryAfter(err error) time.Duration {
	var r *retryAfterError
	if errors.As(err, &r) {
		return r.after
	}
	return 0
}

// ErrStale is wrapped by a Shopify client when a compare-and-swap failed because the value
// changed since it was read (CHANGE_FROM_QUANTITY_STALE): re-read and try again.
var ErrStale = errors.New("value changed since it was read")
