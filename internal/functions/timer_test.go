package functions

import (
	"encoding/json"
	"testing"
	"time"
)

func TestTimerFixtures(t *testing.T) {
	tests := []struct {
		file       string
		wantStatus *ScheduleStatus
		firstRun   bool
		retry      *RetryContext
	}{
		{"timer.request.json", &ScheduleStatus{
			Last:        time.Date(2025, 11, 19, 2, 30, 0, 4651200, time.UTC),
			Next:        time.Date(2025, 11, 20, 2, 30, 0, 0, time.UTC),
			LastUpdated: time.Date(2025, 11, 19, 2, 30, 0, 4651200, time.UTC),
		}, false, nil},
		{"timer-first-run.request.json", &ScheduleStatus{Next: time.Date(2025, 11, 20, 2, 30, 0, 0, time.UTC)}, true, nil},
		{"timer-with-retry.request.json", nil, true, &RetryContext{RetryCount: 1, MaxRetryCount: 3}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			inv, err := ParseInvocation(readFixture(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			ti, err := inv.TimerInfo("myTimer")
			if err != nil {
				t.Fatalf("TimerInfo: %v", err)
			}
			if ti.IsPastDue || !ti.Schedule.AdjustForDST {
				t.Errorf("IsPastDue=%v AdjustForDST=%v", ti.IsPastDue, ti.Schedule.AdjustForDST)
			}
			if (ti.ScheduleStatus == nil) != (tc.wantStatus == nil) {
				t.Fatalf("ScheduleStatus = %+v, want %+v", ti.ScheduleStatus, tc.wantStatus)
			}
			if tc.wantStatus != nil {
				s := ti.ScheduleStatus
				if !s.Last.Equal(tc.wantStatus.Last) || !s.Next.Equal(tc.wantStatus.Next) || !s.LastUpdated.Equal(tc.wantStatus.LastUpdated) {
					t.Errorf("ScheduleStatus = %+v, want %+v", s, tc.wantStatus)
				}
			}
			if ti.ScheduleStatus.FirstRun() != tc.firstRun {
				t.Errorf("FirstRun = %v, want %v", ti.ScheduleStatus.FirstRun(), tc.firstRun)
			}
			rc, err := inv.RetryContext()
			if err != nil {
				t.Fatal(err)
			}
			if (rc == nil) != (tc.retry == nil) {
				t.Fatalf("RetryContext = %+v", rc)
			}
			if rc != nil {
				if rc.RetryCount != tc.retry.RetryCount || rc.MaxRetryCount != tc.retry.MaxRetryCount ||
					rc.ExceptionMessage() != "Response status code does not indicate success: 500 (Internal Server Error)." || rc.LastAttempt() {
					t.Errorf("RetryContext = %+v (%q)", rc, rc.ExceptionMessage())
				}
			}
		})
	}
}

func TestDecodeTimerInfoLenient(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		pastDue bool
		status  bool
		next    time.Time
		wantErr bool
	}{
		{"past due as string", `{"IsPastDue":"True","ScheduleStatus":null}`, true, false, time.Time{}, false},
		{"lowercase keys and Z times", `{"isPastDue":true,"scheduleStatus":{"next":"2025-11-20T02:00:00Z"}}`, true, true, time.Date(2025, 11, 20, 2, 0, 0, 0, time.UTC), false},
		{"no offset", `{"ScheduleStatus":{"Next":"2025-11-20T02:00:00.1234567"}}`, false, true, time.Date(2025, 11, 20, 2, 0, 0, 123456700, time.UTC), false},
		{"whole value as a JSON string", `"{\"IsPastDue\":true}"`, true, false, time.Time{}, false},
		{"empty object", `{}`, false, false, time.Time{}, false},
		{"bad time", `{"ScheduleStatus":{"Next":"soon"}}`, false, false, time.Time{}, true},
		{"bad past due", `{"IsPastDue":"maybe"}`, false, false, time.Time{}, true},
		{"array", `[]`, false, false, time.Time{}, true},
		{"status array", `{"ScheduleStatus":[1]}`, false, false, time.Time{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ti, err := DecodeTimerInfo(json.RawMessage(tc.raw))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if ti.IsPastDue != tc.pastDue || (ti.ScheduleStatus != nil) != tc.status {
				t.Errorf("got %+v", ti)
			}
			if tc.status && !ti.ScheduleStatus.Next.Equal(tc.next) {
				t.Errorf("Next = %v, want %v", ti.ScheduleStatus.Next, tc.next)
			}
		})
	}
}
