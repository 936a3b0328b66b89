package functions

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// TimerInfo is the timer trigger's Data value (§5):
// {"Schedule":{"AdjustForDST":true},"ScheduleStatus":{"Last":...,"Next":...,"LastUpdated":...},"IsPastDue":false}.
type TimerInfo struct {
	// Schedule describes the schedule.
	Schedule TimerSchedule
	// ScheduleStatus is nil when the function has "useMonitor": false.
	ScheduleStatus *ScheduleStatus
	// IsPastDue is true when this run is late (the host was down at the scheduled time).
	IsPastDue bool
}

// TimerSchedule is TimerInfo.Schedule.
type TimerSchedule struct {
	// AdjustForDST is the host's daylight-saving adjustment flag.
	AdjustForDST bool
}

// ScheduleStatus is the persisted schedule state (useMonitor). Times are UTC.
type ScheduleStatus struct {
	// Last is the previous run; zero on the first run (.NET's 0001-01-01).
	Last time.Time
	// Next is the occurrence being run now.
	Next time.Time
	// LastUpdated is when the status was last written; zero on the first run.
	LastUpdated time.Time
}

// FirstRun reports whether there is no previous run recorded.
func (s *ScheduleStatus) FirstRun() bool { return s == nil || s.Last.IsZero() }

// DecodeTimerInfo decodes a timer trigger's Data value leniently: times in any format ParseTime
// accepts, ScheduleStatus null or absent, IsPastDue as a bool or a string, and the whole value
// as an object or as a JSON string holding one.
func DecodeTimerInfo(raw json.RawMessage) (TimerInfo, error) {
	var out TimerInfo
	obj, err := objectFields(raw)
	if err != nil {
		return out, fmt.Errorf("decode timer info: %w", err)
	}
	if v, ok := lookupFold(obj, "IsPastDue"); ok {
		if out.IsPastDue, err = MetadataBool(v); err != nil {
			return out, fmt.Errorf("decode timer info IsPastDue: %w", err)
		}
	}
	if v, ok := lookupFold(obj, "Schedule"); ok {
		if sched, err := objectFields(v); err == nil && sched != nil {
			if a, ok := lookupFold(sched, "AdjustForDST"); ok {
				out.Schedule.AdjustForDST, _ = MetadataBool(a)
			}
		}
	}
	if v, ok := lookupFold(obj, "ScheduleStatus"); ok {
		st, err := objectFields(v)
		if err != nil {
			return out, fmt.Errorf("decode timer info ScheduleStatus: %w", err)
		}
		if st != nil {
			status := &ScheduleStatus{}
			for key, dst := range map[string]*time.Time{"Last": &status.Last, "Next": &status.Next, "LastUpdated": &status.LastUpdated} {
				if tv, ok := lookupFold(st, key); ok {
					if *dst, err = MetadataTime(tv); err != nil {
						return out, fmt.Errorf("decode timer info ScheduleStatus.%s: %w", key, err)
					}
				}
			}
			out.ScheduleStatus = status
		}
	}
	return out, nil
}

// objectFields decodes a JSON object (or a JSON string holding one) into its fields; JSON null
// or an empty value gives nil and no error.
func objectFields(raw json.RawMessage) (map[string]json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		raw = json.RawMessage(strings.TrimSpace(unquoteJSONString(s)))
		if len(raw) == 0 || string(raw) == "null" {
			return nil, nil
		}
	}
	if raw[0] != '{' {
		return nil, errors.New("not a JSON object")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// TimerInfo decodes the timer trigger binding (name "" = the only Data entry).
func (inv *Invocation) TimerInfo(binding string) (TimerInfo, error) {
	raw, err := inv.Binding(binding)
	if err != nil {
		return TimerInfo{}, err
	}
	return DecodeTimerInfo(raw)
}

// RetryContext is Metadata.RetryContext, present only when a host retry policy applies (§5).
type RetryContext struct {
	// RetryCount is the number of the current retry (0 on the first attempt).
	RetryCount int64
	// MaxRetryCount is the policy's maximum.
	MaxRetryCount int64
	// Exception is the previous attempt's failure as the host serialised it (may be null).
	Exception json.RawMessage
}

// ExceptionMessage returns Exception.Message, or "".
func (rc *RetryContext) ExceptionMessage() string {
	if rc == nil {
		return ""
	}
	ex, err := objectFields(rc.Exception)
	if err != nil || ex == nil {
		return ""
	}
	if v, ok := lookupFold(ex, "Message"); ok {
		s, _ := MetadataString(v)
		return s
	}
	return ""
}

// LastAttempt reports whether no retry follows this attempt if it fails.
func (rc *RetryContext) LastAttempt() bool {
	return rc != nil && rc.RetryCount >= rc.MaxRetryCount
}

// RetryContext decodes Metadata.RetryContext; nil without error when there is none.
func (inv *Invocation) RetryContext() (*RetryContext, error) {
	return decodeRetryContextFrom(inv.Metadata)
}

func decodeRetryContextFrom(md map[string]json.RawMessage) (*RetryContext, error) {
	v, ok := lookupFold(md, "RetryContext")
	if !ok {
		return nil, nil
	}
	fields, err := objectFields(v)
	if err != nil {
		return nil, fmt.Errorf("decode RetryContext: %w", err)
	}
	if fields == nil {
		return nil, nil
	}
	rc := &RetryContext{}
	if n, ok := lookupFold(fields, "RetryCount"); ok {
		if rc.RetryCount, err = MetadataInt(n); err != nil {
			return nil, fmt.Errorf("decode RetryContext.RetryCount: %w", err)
		}
	}
	if n, ok := lookupFold(fields, "MaxRetryCount"); ok {
		if rc.MaxRetryCount, err = MetadataInt(n); err != nil {
			return nil, fmt.Errorf("decode RetryContext.MaxRetryCount: %w", err)
		}
	}
	if ex, ok := lookupFold(fields, "Exception"); ok {
		rc.Exception = append(json.RawMessage(nil), bytes.TrimSpace(ex)...)
	}
	return rc, nil
}
