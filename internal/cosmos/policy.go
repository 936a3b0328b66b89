package cosmos

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/shipwell/orderflow/internal/order"
)

// ErrThrottled is returned when Cosmos DB kept answering 429 (request rate too large) after the
// retries Config allows. The error carries the wait Cosmos asked for (order.RetryAfter).
var ErrThrottled = errors.New("cosmos db: request rate too large (429)")

// Stats count the HTTP requests this store sent to Cosmos DB.
type Stats struct {
	// Requests is every HTTP request (retries and the SDK's account reads included).
	Requests int64
	// Throttled is how many of them were answered 429.
	Throttled int64
}

type counters struct {
	requests  atomic.Int64
	throttled atomic.Int64
}

func (c *counters) stats() Stats {
	return Stats{Requests: c.requests.Load(), Throttled: c.throttled.Load()}
}

// countPolicy runs once per HTTP attempt (a per-retry policy) and counts it.
type countPolicy struct{ c *counters }

func (p countPolicy) Do(req *policy.Request) (*http.Response, error) {
	p.c.requests.Add(1)
	return req.Next()
}

// throttlePolicy retries requests answered 429 after the x-ms-retry-after-ms Cosmos DB sends,
// at most maxRetries times and for at most maxWait in total, and never past the caller's
// deadline. It is a per-call policy: it wraps the SDK's own retries (which are left to
// transport errors and 5xx, see clientOptions). When it gives up, the 429 response goes back
// to the SDK, which turns it into an error; classify makes that ErrThrottled.
type throttlePolicy struct {
	maxRetries int
	maxWait    time.Duration
	c          *counters
	log        *slog.Logger
}

func (p *throttlePolicy) Do(req *policy.Request) (*http.Response, error) {
	ctx := req.Raw().Context()
	var waited time.Duration
	for try := 0; ; try++ {
		if try > 0 {
			if err := req.RewindBody(); err != nil {
				return nil, err
			}
		}
		resp, err := req.Clone(ctx).Next()
		if err != nil || resp.StatusCode != http.StatusTooManyRequests {
			return resp, err
		}
		p.c.throttled.Add(1)
		wait := retryAfter(resp.Header)
		if wait <= 0 {
			wait = 100 * time.Millisecond << min(try, 6)
		}
		giveUp := try >= p.maxRetries || waited+wait > p.maxWait
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			giveUp = true // the caller cannot wait that long: answer now, with the wait attached
		}
		if giveUp {
			p.log.Warn("cosmos db throttled (429); giving up", "method", req.Raw().Method,
				"retries", try, "waited", waited.String(), "retry_after", wait.String())
			return resp, nil
		}
		p.log.Debug("cosmos db throttled (429); retrying", "method", req.Raw().Method,
			"retry", try+1, "retry_after", wait.String())
		runtime.Drain(resp)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		waited += wait
	}
}

// retryAfter reads the wait Cosmos DB asks for: x-ms-retry-after-ms (or retry-after-ms).
func retryAfter(h http.Header) time.Duration {
	for _, name := range []string{"x-ms-retry-after-ms", "retry-after-ms"} {
		if v := h.Get(name); v != "" {
			if ms, err := strconv.ParseFloat(v, 64); err == nil && ms >= 0 {
				return time.Duration(ms * float64(time.Millisecond))
			}
		}
	}
	if v := h.Get("Retry-After"); v != "" {
		if s, err := strconv.Atoi(v); err == nil && s >= 0 {
			return time.Duration(s) * time.Second
		}
	}
	return 0
}

// statusError is a failed Cosmos DB request, in one line. It unwraps to the order package's
// sentinel for its status (ErrNotFound, ErrConflict), to ErrThrottled, and to the SDK's
// *azcore.ResponseError.
type statusError struct {
	status    int
	subStatus string
	sentinel  error
	resp      *azcore.ResponseError
}

func (e *statusError) Error() string {
	if e.sentinel == ErrThrottled {
		return ErrThrottled.Error() + ", still throttled after the retries allowed (MaxThrottleRetries, MaxThrottleWait)"
	}
	msg := fmt.Sprintf("cosmos db answered %d %s", e.status, http.StatusText(e.status))
	if e.subStatus != "" && e.subStatus != "0" {
		msg += ", substatus " + e.subStatus
	}
	if e.sentinel != nil {
		msg += " (" + e.sentinel.Error() + ")"
	}
	return msg
}

func (e *statusError) Unwrap() []error {
	if e.sentinel != nil {
		return []error{e.sentinel, e.resp}
	}
	return []error{e.resp}
}

// classify turns an SDK error into one the callers can test with errors.Is: 404 →
// order.ErrNotFound, 409 and 412 → order.ErrConflict, 429 → ErrThrottled with the requested
// wait, 413 → permanent. Transport errors pass through.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return err
	}
	e := &statusError{status: re.StatusCode, resp: re}
	if re.RawResponse != nil {
		e.subStatus = re.RawResponse.Header.Get("x-ms-substatus")
	}
	switch re.StatusCode {
	case http.StatusNotFound:
		e.sentinel = order.ErrNotFound
	case http.StatusConflict, http.StatusPreconditionFailed:
		e.sentinel = order.ErrConflict
	case http.StatusTooManyRequests:
		e.sentinel = ErrThrottled
		var wait time.Duration
		if re.RawResponse != nil {
			wait = retryAfter(re.RawResponse.Header)
		}
		if wait <= 0 {
			wait = time.Second
		}
		return order.WithRetryAfter(e, wait)
	case http.StatusRequestEntityTooLarge:
		return order.Permanent(fmt.Errorf("document exceeds Cosmos DB's 2 MB item limit: %w", e))
	}
	return e
}

func statusOf(err error) int {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}
