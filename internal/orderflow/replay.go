package orderflow

import (
	"context"
	"errors"
	"fmt"

	"github.com/shipwell/orderflow/internal/order"
)

// Replay sends an order's dead letters (all, or the job with id jobID) through the queue again.
// It returns how many it re-queued.
func (s *Service) Replay(ctx context.Context, recordID, jobID string) (int, error) {
	n := 0
	now := s.now()
	_, err := s.update(ctx, recordID, func(o *order.Order) ([]order.Job, error) {
		before := len(o.DeadLetters)
		n = o.Replay(jobID, now)
		if len(o.DeadLetters) == before {
			return nil, errNoChange
		}
		return nil, nil
	})
	if err != nil {
		return n, fmt.Errorf("replay %s: %w", recordID, err)
	}
	return n, nil
}

// ReplayAll replays every dead letter of every order.
func (s *Service) ReplayAll(ctx context.Context) (int, error) {
	total := 0
	for {
		os, err := s.Store.List(ctx, order.Filter{DeadLettered: true, Limit: 200})
		if err != nil {
			return total, fmt.Errorf("list dead letters: %w", err)
		}
		if len(os) == 0 {
			return total, nil
		}
		var errs []error
		for _, o := range os {
			n, err := s.Replay(ctx, o.ID, "") // replays or drops every dead letter of o
			total += n
			if err != nil {
				errs = append(errs, err)
			}
		}
		if len(errs) > 0 {
			return total, errors.Join(errs...)
		}
	}
}
