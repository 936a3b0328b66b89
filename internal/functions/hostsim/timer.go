package hostsim

import (
	"fmt"
	"strings"
	"time"
)

// RetryContext is Metadata.RetryContext of a retried invocation (§5).
type RetryContext struct {
	RetryCount    int
	MaxRetryCount int
	// Exception is the previous failure as the host serialises it (nil on the first attempt).
	Exception any
}

// TimerOptions shapes a timer invocation.
type TimerOptions struct {
	// Next is the occurrence being run (default: the latest occurrence of the schedule at or
	// before now). Last is the previous run (default: one period before Next).
	Next time.Time
	Last time.Time
	// FirstRun sends Last and LastUpdated as .NET's MinValue (0001-01-01T00:00:00+00:00).
	FirstRun bool
	// PastDue sets IsPastDue (the run is late).
	PastDue bool
	// NoScheduleStatus sends "ScheduleStatus": null, as with "useMonitor": false (which the
	// simulator also honours from function.json, and for schedules under a minute).
	NoScheduleStatus bool
	// RetryContext, when set, is sent as is and only one attempt is made. Otherwise, when the
	// function or host.json has a retry policy, failed attempts are retried (without waiting
	// the delay) with RetryContext{RetryCount: n, MaxRetryCount, Exception} up to the policy's
	// maxRetryCount; the first attempt carries RetryCount 0 [infer].
	RetryContext *RetryContext
}

// TimerResult is what happened to one timer occurrence.
type TimerResult struct {
	// Function is the function name.
	Function string
	// Attempts are the invocations in order (more than one only with a retry policy).
	Attempts []*Invocation
	// Succeeded reports whether the last attempt succeeded. A failure is only logged by the
	// host; the schedule goes on.
	Succeeded bool
	// Err is set when the timer could not be invoked at all.
	Err error
}

// Last returns the last attempt (nil if none).
func (r *TimerResult) Last() *Invocation {
	if len(r.Attempts) == 0 {
		return nil
	}
	return r.Attempts[len(r.Attempts)-1]
}

// Timer fires a timer-triggered function once (§5): Data.<name> is the TimerInfo object
// {"Schedule":{"AdjustForDST":true},"ScheduleStatus":{Last,Next,LastUpdated}|null,"IsPastDue"}
// with times formatted like Newtonsoft ("2025-11-20T02:30:00+00:00", up to 7 fractional
// digits), and Metadata holds only sys (plus RetryContext when retrying).
func (s *Sim) Timer(function string, opts TimerOptions) *TimerResult {
	res := &TimerResult{Function: function}
	fn, err := s.function(function, "timerTrigger")
	if err != nil {
		res.Err = err
		return res
	}
	expr, _ := expandSettings(fn.Trigger.Schedule, s.env)
	sched, err := ParseSchedule(expr)
	if err != nil {
		res.Err = err
		return res
	}
	now := time.Now().UTC().Truncate(time.Second)
	n1 := sched.Next(now)
	period := sched.Next(n1).Sub(n1)
	next := opts.Next
	if next.IsZero() {
		next = sched.Next(now.Add(-period))
	}
	last := opts.Last
	if last.IsZero() {
		last = next.Add(-period)
	}
	useMonitor := period >= time.Minute
	if fn.Trigger.UseMonitor != nil {
		useMonitor = *fn.Trigger.UseMonitor
	}
	var status any // JSON null
	if useMonitor && !opts.NoScheduleStatus {
		lastText := netTime(last)
		if opts.FirstRun {
			lastText = "0001-01-01T00:00:00+00:00"
		}
		status = map[string]any{"Last": lastText, "Next": netTime(next), "LastUpdated": lastText}
	}
	data := map[string]any{"Schedule": map[string]any{"AdjustForDST": true}, "ScheduleStatus": status, "IsPastDue": opts.PastDue}

	policy := fn.Retry
	if policy == nil {
		policy = s.app.Host.Retry
	}
	attempts := 1
	if opts.RetryContext == nil && policy != nil && policy.MaxRetryCount > 0 {
		attempts = policy.MaxRetryCount + 1
	}
	var exception any
	for i := 0; i < attempts; i++ {
		md := map[string]any{"sys": sysMetadata(fn.Name, time.Now().UTC().Format("2006-01-02T15:04:05.0000000Z"))}
		switch {
		case opts.RetryContext != nil:
			md["RetryContext"] = map[string]any{"RetryCount": opts.RetryContext.RetryCount,
				"MaxRetryCount": opts.RetryContext.MaxRetryCount, "Exception": opts.RetryContext.Exception}
		case attempts > 1:
			md["RetryContext"] = map[string]any{"RetryCount": i, "MaxRetryCount": policy.MaxRetryCount, "Exception": exception}
		}
		envelope, err := marshalNoHTMLEscape(map[string]any{"Data": map[string]any{fn.Trigger.Name: data}, "Metadata": md})
		if err != nil {
			res.Err = err
			return res
		}
		inv := s.invoke(KindTimer, fn.Name, envelope)
		res.Attempts = append(res.Attempts, inv)
		if inv.Err == nil {
			res.Succeeded = true
			return res
		}
		exception = map[string]any{"ClassName": "System.Net.Http.HttpRequestException", "Message": failureMessage(inv)}
	}
	return res
}

// failureMessage is the exception message the host would record for a failed attempt.
func failureMessage(inv *Invocation) string {
	if inv.StatusCode != 0 && (inv.StatusCode < 200 || inv.StatusCode > 299) {
		return fmt.Sprintf("Response status code does not indicate success: %d.", inv.StatusCode)
	}
	return inv.Err.Error()
}

// netTime formats t like Newtonsoft writes a local-kind DateTime on a UTC host:
// yyyy-MM-ddTHH:mm:ss[.FFFFFFF]+00:00.
func netTime(t time.Time) string {
	t = t.UTC()
	out := t.Format("2006-01-02T15:04:05")
	if ticks := t.Nanosecond() / 100; ticks != 0 {
		frac := fmt.Sprintf("%07d", ticks)
		out += "." + strings.TrimRight(frac, "0")
	}
	return out + "+00:00"
}
