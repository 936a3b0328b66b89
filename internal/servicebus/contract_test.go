package servicebus

import (
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/shipwell/orderflow/internal/order"
	"github.com/shipwell/orderflow/internal/order/ordertest"
)

// TestQueueContract runs the shared queue contract on the Service Bus adapter through the SDK
// interfaces (no broker runs here). The harness plays the broker's part the adapter relies on:
// duplicate detection on MessageID, so the contract checks that the adapter's message ids make
// each job arrive once, and that bodies decode back to the same jobs.
func TestQueueContract(t *testing.T) {
	ordertest.RunQueueContract(t, func(t *testing.T) ordertest.QueueHarness {
		s := &fakeSender{}
		q := testQueue(t, Config{}, s, nil)
		seen := map[string]bool{} // the broker's duplicate-detection window
		return ordertest.QueueHarness{
			Queue: q,
			Take: func(t *testing.T) []order.Job {
				s.mu.Lock()
				all := append([]*azservicebus.Message(nil), s.sent...)
				for _, b := range s.batches {
					all = append(all, b...)
				}
				s.mu.Unlock()
				var out []order.Job
				for _, m := range all {
					if m.MessageID == nil || seen[*m.MessageID] {
						continue
					}
					seen[*m.MessageID] = true
					j, err := DecodeJob(m.Body)
					if err != nil {
						t.Fatal(err)
					}
					out = append(out, j)
				}
				return out
			},
			Scheduled: func(t *testing.T) map[string]time.Time {
				out := map[string]time.Time{}
				for _, sc := range s.scheduledCopy() {
					for _, m := range sc.msgs {
						j, err := DecodeJob(m.Body)
						if err != nil {
							t.Fatal(err)
						}
						out[j.ID] = sc.at
					}
				}
				return out
			},
		}
	})
}
