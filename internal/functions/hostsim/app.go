package hostsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// App is a function app as the host sees it: host.json and one folder per function.
type App struct {
	// Root is the absolute app root (the folder holding host.json).
	Root string
	// Host is the parsed host.json.
	Host HostConfig
	// Functions maps function name (folder name) → function.
	Functions map[string]*Function
}

// HostConfig is the part of host.json the simulator uses. Keys are matched case-insensitively,
// as the host's configuration system does.
type HostConfig struct {
	Version         string          `json:"version"`
	FunctionTimeout string          `json:"functionTimeout"`
	CustomHandler   CustomHandler   `json:"customHandler"`
	Extensions      Extensions      `json:"extensions"`
	ExtensionBundle ExtensionBundle `json:"extensionBundle"`
	Retry           *RetryPolicy    `json:"retry"`
	// Raw is the whole document.
	Raw map[string]any `json:"-"`
}

// CustomHandler is host.json customHandler.
type CustomHandler struct {
	Description                 HandlerDescription `json:"description"`
	EnableForwardingHTTPRequest bool               `json:"enableForwardingHttpRequest"`
	EnableProxyingHTTPRequest   bool               `json:"enableProxyingHttpRequest"`
}

// HandlerDescription is host.json customHandler.description.
type HandlerDescription struct {
	DefaultExecutablePath string   `json:"defaultExecutablePath"`
	WorkingDirectory      string   `json:"workingDirectory"`
	Arguments             []string `json:"arguments"`
	DefaultWorkerPath     string   `json:"defaultWorkerPath"`
	WorkerArguments       []string `json:"workerArguments"`
}

// Extensions is host.json extensions (the parts the simulator reads).
type Extensions struct {
	HTTP       *HTTPExtension       `json:"http"`
	ServiceBus *ServiceBusExtension `json:"serviceBus"`
}

// HTTPExtension is host.json extensions.http.
type HTTPExtension struct {
	RoutePrefix *string `json:"routePrefix"`
}

// ServiceBusExtension is host.json extensions.serviceBus (the parts the simulator checks).
type ServiceBusExtension struct {
	AutoCompleteMessages       *bool  `json:"autoCompleteMessages"`
	MaxConcurrentCalls         int    `json:"maxConcurrentCalls"`
	MaxAutoLockRenewalDuration string `json:"maxAutoLockRenewalDuration"`
	PrefetchCount              int    `json:"prefetchCount"`
}

// ExtensionBundle is host.json extensionBundle.
type ExtensionBundle struct {
	ID      string `json:"id"`
	Version string `json:"version"`
}

// RetryPolicy is a host.json or function.json "retry" section (§5).
type RetryPolicy struct {
	Strategy        string `json:"strategy"`
	MaxRetryCount   int    `json:"maxRetryCount"`
	DelayInterval   string `json:"delayInterval"`
	MinimumInterval string `json:"minimumInterval"`
	MaximumInterval string `json:"maximumInterval"`
}

// RoutePrefix returns extensions.http.routePrefix, "api" when unset.
func (h HostConfig) RoutePrefix() string {
	if h.Extensions.HTTP == nil || h.Extensions.HTTP.RoutePrefix == nil {
		return "api"
	}
	return strings.Trim(*h.Extensions.HTTP.RoutePrefix, "/")
}

// Timeout returns functionTimeout, or 0 when unset or unparsable.
func (h HostConfig) Timeout() time.Duration {
	d, err := ParseTimeSpan(h.FunctionTimeout)
	if err != nil {
		return 0
	}
	return d
}

// Function is one function folder.
type Function struct {
	// Name is the folder name; the host POSTs invocations to /<Name>.
	Name string
	// Dir is the folder's absolute path.
	Dir string
	// Bindings are function.json bindings in order.
	Bindings []Binding
	// Trigger is the single trigger binding.
	Trigger Binding
	// Retry is function.json "retry", if any.
	Retry *RetryPolicy
	// Disabled is function.json "disabled".
	Disabled bool
	// HTTPInAndOut reports exactly one input binding (an httpTrigger) and exactly one output
	// binding (type http): the host's IsHttpInAndOutFunction (§3).
	HTTPInAndOut bool
	// Forwarding reports that the host forwards HTTP requests raw to the handler:
	// HTTPInAndOut and host.json customHandler.enableForwardingHttpRequest.
	Forwarding bool
}

// Binding is one function.json binding. Unknown properties stay in Raw.
type Binding struct {
	Type              string   `json:"type"`
	Direction         string   `json:"direction"`
	Name              string   `json:"name"`
	DataType          string   `json:"dataType"`
	AuthLevel         string   `json:"authLevel"`
	Methods           []string `json:"methods"`
	Route             string   `json:"route"`
	QueueName         string   `json:"queueName"`
	TopicName         string   `json:"topicName"`
	SubscriptionName  string   `json:"subscriptionName"`
	Connection        string   `json:"connection"`
	Cardinality       string   `json:"cardinality"`
	IsSessionsEnabled bool     `json:"isSessionsEnabled"`
	Schedule          string   `json:"schedule"`
	UseMonitor        *bool    `json:"useMonitor"`
	RunOnStartup      bool     `json:"runOnStartup"`
	// Raw is the binding object as written.
	Raw map[string]any `json:"-"`
}

// IsTrigger reports whether the binding is a trigger.
func (b Binding) IsTrigger() bool { return strings.HasSuffix(strings.ToLower(b.Type), "trigger") }

// Is reports whether the binding has type t (case-insensitive).
func (b Binding) Is(t string) bool { return strings.EqualFold(b.Type, t) }

// functionNameRE is the host's rule for function names.
var functionNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_\-]{0,127}$`)

// LoadApp reads host.json and every <dir>/function.json under root and validates them the way
// the host does at start-up (and a little more: a timer schedule must parse, a binding must have
// a type, a direction and a name). It does not resolve %AppSetting% expressions; Start does.
func LoadApp(root string) (*App, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("load app %s: %w", root, err)
	}
	app := &App{Root: abs, Functions: map[string]*Function{}}
	hostJSON, err := os.ReadFile(filepath.Join(abs, "host.json"))
	if err != nil {
		return nil, fmt.Errorf("load app: %w", err)
	}
	if err := decodeStrict(hostJSON, &app.Host, &app.Host.Raw); err != nil {
		return nil, fmt.Errorf("load app: host.json: %w", err)
	}
	if app.Host.Version != "2.0" {
		return nil, fmt.Errorf("load app: host.json version %q, want \"2.0\"", app.Host.Version)
	}
	if app.Host.FunctionTimeout != "" {
		if _, err := ParseTimeSpan(app.Host.FunctionTimeout); err != nil {
			return nil, fmt.Errorf("load app: host.json functionTimeout: %w", err)
		}
	}
	entries, err := os.ReadDir(abs)
	if err != nil {
		return nil, fmt.Errorf("load app: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		path := filepath.Join(abs, e.Name(), "function.json")
		data, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("load app: %w", err)
		}
		fn, err := parseFunction(e.Name(), data)
		if err != nil {
			return nil, fmt.Errorf("load app: %s/function.json: %w", e.Name(), err)
		}
		fn.Dir = filepath.Join(abs, e.Name())
		fn.Forwarding = fn.HTTPInAndOut && app.Host.CustomHandler.EnableForwardingHTTPRequest
		app.Functions[fn.Name] = fn
	}
	if len(app.Functions) == 0 {
		return nil, fmt.Errorf("load app %s: no function folders", abs)
	}
	return app, nil
}

// parseFunction parses and validates one function.json.
func parseFunction(name string, data []byte) (*Function, error) {
	if !functionNameRE.MatchString(name) {
		return nil, fmt.Errorf("invalid function name %q", name)
	}
	var doc struct {
		Bindings []json.RawMessage `json:"bindings"`
		Disabled bool              `json:"disabled"`
		Retry    *RetryPolicy      `json:"retry"`
	}
	if err := decodeStrict(data, &doc, nil); err != nil {
		return nil, err
	}
	fn := &Function{Name: name, Disabled: doc.Disabled, Retry: doc.Retry}
	var ins, outs []Binding
	triggers := 0
	for i, raw := range doc.Bindings {
		var b Binding
		if err := decodeStrict(raw, &b, &b.Raw); err != nil {
			return nil, fmt.Errorf("binding %d: %w", i, err)
		}
		if b.Type == "" || b.Name == "" {
			return nil, fmt.Errorf("binding %d: type and name are required", i)
		}
		switch strings.ToLower(b.Direction) {
		case "in":
			ins = append(ins, b)
		case "out":
			outs = append(outs, b)
		case "inout":
			ins, outs = append(ins, b), append(outs, b)
		default:
			return nil, fmt.Errorf("binding %q: direction %q", b.Name, b.Direction)
		}
		if b.IsTrigger() {
			if !strings.EqualFold(b.Direction, "in") {
				return nil, fmt.Errorf("trigger %q must have direction \"in\"", b.Name)
			}
			triggers++
			fn.Trigger = b
		}
		if err := validateBinding(b); err != nil {
			return nil, fmt.Errorf("binding %q: %w", b.Name, err)
		}
		fn.Bindings = append(fn.Bindings, b)
	}
	if triggers != 1 {
		return nil, fmt.Errorf("%d trigger bindings, want exactly 1", triggers)
	}
	fn.HTTPInAndOut = len(ins) == 1 && len(outs) == 1 && ins[0].Is("httpTrigger") && outs[0].Is("http")
	return fn, nil
}

// validateBinding checks the properties the simulator relies on.
func validateBinding(b Binding) error {
	switch {
	case b.Is("httpTrigger"):
		switch strings.ToLower(b.AuthLevel) {
		case "", "anonymous", "function", "admin":
		default:
			return fmt.Errorf("authLevel %q", b.AuthLevel)
		}
	case b.Is("serviceBusTrigger"):
		if b.QueueName == "" && (b.TopicName == "" || b.SubscriptionName == "") {
			return errors.New("queueName, or topicName and subscriptionName, required")
		}
		if b.Connection == "" {
			return errors.New("connection required")
		}
		switch strings.ToLower(b.DataType) {
		case "", "string", "binary":
		default:
			return fmt.Errorf("dataType %q", b.DataType)
		}
	case b.Is("timerTrigger"):
		if b.Schedule == "" {
			return errors.New("schedule required")
		}
		if !strings.Contains(b.Schedule, "%") {
			if _, err := ParseSchedule(b.Schedule); err != nil {
				return err
			}
		}
	}
	return nil
}

// ParseSchedule parses a timer schedule: a 6-field NCRONTAB expression (seconds first) or a
// TimeSpan ("00:05:00"), as the timer extension accepts.
func ParseSchedule(expr string) (cron.Schedule, error) {
	if d, err := ParseTimeSpan(expr); err == nil {
		if d <= 0 {
			return nil, fmt.Errorf("schedule %q: non-positive interval", expr)
		}
		return cron.Every(d), nil
	}
	if n := len(strings.Fields(expr)); n != 6 {
		return nil, fmt.Errorf("schedule %q: %d fields, want 6 (NCRONTAB has seconds first)", expr, n)
	}
	p := cron.NewParser(cron.Second | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)
	s, err := p.Parse(expr)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: %w", expr, err)
	}
	return s, nil
}

// timeSpanRE matches .NET TimeSpan text: [d.]hh:mm[:ss[.fffffff]].
var timeSpanRE = regexp.MustCompile(`^(?:(\d+)\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,7}))?)?$`)

// ParseTimeSpan parses a .NET TimeSpan string ([d.]hh:mm[:ss[.fffffff]]), as host.json uses.
func ParseTimeSpan(s string) (time.Duration, error) {
	m := timeSpanRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("not a TimeSpan: %q", s)
	}
	atoi := func(x string) time.Duration {
		var n time.Duration
		for _, c := range x {
			n = n*10 + time.Duration(c-'0')
		}
		return n
	}
	d := atoi(m[1])*24*time.Hour + atoi(m[2])*time.Hour + atoi(m[3])*time.Minute + atoi(m[4])*time.Second
	if m[5] != "" {
		frac := m[5] + strings.Repeat("0", 7-len(m[5]))
		d += atoi(frac) * 100 * time.Nanosecond
	}
	return d, nil
}

// decodeStrict decodes a JSON object into v (case-insensitive field names) and, if raw is not
// nil, into *raw. Comments and trailing data are errors, like a JSON validator would report.
func decodeStrict(data []byte, v any, raw *map[string]any) error {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON object")
	}
	if raw != nil {
		if err := json.Unmarshal(data, raw); err != nil {
			return err
		}
	}
	return nil
}

// HTTPFunctions returns the HTTP-triggered functions sorted by name.
func (a *App) HTTPFunctions() []*Function {
	var out []*Function
	for _, fn := range a.Functions {
		if fn.Trigger.Is("httpTrigger") {
			out = append(out, fn)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// RouteTemplate returns the function's full route template including the route prefix, e.g.
// "api/order-created". Without a "route" property the function name is the route.
func (a *App) RouteTemplate(fn *Function) string {
	route := strings.Trim(fn.Trigger.Route, "/")
	if route == "" {
		route = fn.Name
	}
	if p := a.Host.RoutePrefix(); p != "" {
		return p + "/" + route
	}
	return route
}

// MatchRoute finds the HTTP function whose route template matches path (percent-decoded, no
// query) and whose methods allow method. Literal segments match case-insensitively; "{name}",
// "{name?}", "{name:constraint}" and a trailing "{*name}" capture route parameters.
func (a *App) MatchRoute(method, path string) (*Function, map[string]string, bool) {
	segs := splitPath(path)
	for _, fn := range a.HTTPFunctions() {
		params, ok := matchTemplate(splitPath(a.RouteTemplate(fn)), segs)
		if !ok || !methodAllowed(fn.Trigger.Methods, method) {
			continue
		}
		return fn, params, true
	}
	return nil, nil, false
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

func methodAllowed(methods []string, method string) bool {
	if len(methods) == 0 {
		return true
	}
	for _, m := range methods {
		if strings.EqualFold(m, method) {
			return true
		}
	}
	return false
}

func matchTemplate(tmpl, segs []string) (map[string]string, bool) {
	params := map[string]string{}
	for i, t := range tmpl {
		if strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}") {
			name := strings.TrimSuffix(strings.TrimPrefix(t, "{"), "}")
			if strings.HasPrefix(name, "*") {
				params[strings.TrimLeft(name, "*")] = strings.Join(segs[min(i, len(segs)):], "/")
				return params, true
			}
			optional := strings.HasSuffix(name, "?")
			name = strings.TrimSuffix(name, "?")
			name, _, _ = strings.Cut(name, ":")
			if i >= len(segs) {
				if optional && i == len(tmpl)-1 {
					return params, true
				}
				return nil, false
			}
			params[name] = segs[i]
			continue
		}
		if i >= len(segs) || !strings.EqualFold(t, segs[i]) {
			return nil, false
		}
	}
	if len(segs) != len(tmpl) {
		return nil, false
	}
	return params, true
}

// expandSettings replaces %NAME% with env values, as the host does for binding expressions and
// handler arguments; an unresolved name is an error (the host fails to index the function).
func expandSettings(s string, env map[string]string) (string, error) {
	var missing []string
	out := settingRE.ReplaceAllStringFunc(s, func(m string) string {
		name := strings.Trim(m, "%")
		v, ok := env[name]
		if !ok {
			missing = append(missing, name)
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("%q: app setting(s) %v not set", s, missing)
	}
	return out, nil
}

var settingRE = regexp.MustCompile(`%[A-Za-z0-9_.:\-]+%`)
