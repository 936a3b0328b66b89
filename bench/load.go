package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// result is what one load run measured (only requests started inside the measured window).
type result struct {
	window   time.Duration
	ok       int         // 200 answers
	status   map[int]int // other statuses
	errs     int         // transport errors (no answer)
	lat      []time.Duration
	firstErr string
}

func (r *result) rate() float64 { return float64(r.ok) / r.window.Seconds() }

func (r *result) nonOK() int {
	n := r.errs
	for _, c := range r.status {
		n += c
	}
	return n
}

// quantile returns the nearest-rank q-quantile of the latencies (sorted by summarize).
func (r *result) quantile(q float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	i := int(q*float64(len(r.lat))+0.999999) - 1
	return r.lat[min(max(i, 0), len(r.lat)-1)]
}

func (r *result) max() time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	return r.lat[len(r.lat)-1]
}

// recorder collects outcomes from many goroutines.
type recorder struct {
	mu  sync.Mutex
	res result
}

func newRecorder() *recorder { return &recorder{res: result{status: map[int]int{}}} }

func (rc *recorder) add(lat time.Duration, status int, err error) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	switch {
	case err != nil:
		rc.res.errs++
		if rc.res.firstErr == "" {
			rc.res.firstErr = err.Error()
		}
	case status == http.StatusOK:
		rc.res.ok++
	default:
		rc.res.status[status]++
	}
	rc.res.lat = append(rc.res.lat, lat)
}

func (rc *recorder) summarize(window time.Duration) *result {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	r := rc.res
	r.window = window
	slices.Sort(r.lat)
	return &r
}

func newClient(conns int) *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			MaxConnsPerHost:     conns, // 0: unlimited (open loop)
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
		},
	}
}

// send posts one request and drains the answer.
func send(cl *http.Client, req *http.Request) (int, error) {
	res, err := cl.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, err
}

// phases tell a load run when to start recording and, optionally, when to sample the server
// (CPU at the start and end of the measured window).
type phases struct {
	warmup, measure time.Duration
	onStart, onEnd  func()
}

// closedLoop runs conns keep-alive connections, each sending its next request as soon as the
// previous one is answered, for warmup+measure; only requests started in the measured window
// count. With limit > 0 it instead stops after limit requests (no warm-up) and measures all.
func closedLoop(ctx context.Context, url string, src *source, conns int, ph phases, limit int) (*result, error) {
	cl := newClient(conns)
	defer cl.CloseIdleConnections()
	rc := newRecorder()
	start := time.Now()
	measureFrom := start.Add(ph.warmup)
	end := measureFrom.Add(ph.measure)
	var left chan struct{}
	if limit > 0 {
		measureFrom, end = start, start.Add(time.Hour)
		left = make(chan struct{}, limit)
		for range limit {
			left <- struct{}{}
		}
		close(left)
	}
	var startOnce, endOnce sync.Once
	var wg sync.WaitGroup
	var genErr error
	var errOnce sync.Once
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if left != nil {
					if _, ok := <-left; !ok {
						return
					}
				}
				req, err := src.next(url)
				if err != nil {
					errOnce.Do(func() { genErr = err })
					return
				}
				t := time.Now()
				if !t.Before(end) {
					return
				}
				if !t.Before(measureFrom) && ph.onStart != nil {
					startOnce.Do(ph.onStart)
				}
				status, err := send(cl, req)
				if !t.Before(measureFrom) {
					rc.add(time.Since(t), status, err)
				}
			}
		}()
	}
	if limit == 0 && ph.onEnd != nil {
		go func() {
			select {
			case <-time.After(time.Until(end)):
				endOnce.Do(ph.onEnd)
			case <-ctx.Done():
			}
		}()
	}
	wg.Wait()
	if ph.onEnd != nil {
		endOnce.Do(ph.onEnd)
	}
	window := ph.measure
	if limit > 0 {
		window = time.Since(start)
	}
	return rc.summarize(window), errors.Join(genErr, ctx.Err())
}

// openLoop sends rate requests per second on a fixed schedule, whatever the answers (each
// request on its own goroutine; the client opens connections as needed), for warmup+measure.
// Latency is measured from the scheduled send time, so a stalled server or a late generator
// shows up in the latencies instead of silently lowering the load (coordinated omission).
func openLoop(ctx context.Context, url string, src *source, rate int, ph phases) (*result, error) {
	cl := newClient(0)
	cl.Transport.(*http.Transport).MaxIdleConnsPerHost = 1024
	cl.Transport.(*http.Transport).MaxIdleConns = 1024
	defer cl.CloseIdleConnections()
	rc := newRecorder()
	interval := time.Second / time.Duration(rate)
	start := time.Now().Add(10 * time.Millisecond)
	total := int((ph.warmup + ph.measure) / interval)
	warm := int(ph.warmup / interval)
	var wg sync.WaitGroup
	var genErr error
	for i := 0; i < total && ctx.Err() == nil; i++ {
		at := start.Add(time.Duration(i) * interval)
		if d := time.Until(at); d > 0 {
			time.Sleep(d)
		}
		if i == warm && ph.onStart != nil {
			ph.onStart()
		}
		req, err := src.next(url)
		if err != nil {
			genErr = err
			break
		}
		measured := i >= warm
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, err := send(cl, req)
			if measured {
				rc.add(time.Since(at), status, err)
			}
		}()
	}
	wg.Wait()
	if ph.onEnd != nil {
		ph.onEnd()
	}
	return rc.summarize(ph.measure), errors.Join(genErr, ctx.Err())
}
