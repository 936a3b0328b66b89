package hostsim

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// HTTPResult is what a caller of the function app receives.
type HTTPResult struct {
	// StatusCode, Header and Body are the response to the caller.
	StatusCode int
	Header     http.Header
	Body       []byte
	// Function is the matched function ("" when no route matched).
	Function string
	// Forwarded is true when the request was forwarded raw (§3), false for the §2 envelope.
	Forwarded bool
	// Invoked is true when the handler was contacted (false for 401/404 answered by the host).
	Invoked bool
	// Invocation is the request sent to the handler and its reply (nil if not invoked).
	Invocation *Invocation
}

// contentHeaders are .NET HttpContentHeaders: TryAddWithoutValidation refuses them on a
// request's headers, so the host's forwarded request only has the Content-Type and
// Content-Length it recreates on the content (§3).
var contentHeaders = map[string]bool{
	"Allow": true, "Content-Disposition": true, "Content-Encoding": true, "Content-Language": true,
	"Content-Length": true, "Content-Location": true, "Content-Md5": true, "Content-Range": true,
	"Content-Type": true, "Expires": true, "Last-Modified": true,
}

// hopHeaders are connection-level headers the simulated front end does not pass on.
var hopHeaders = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Transfer-Encoding": true, "Upgrade": true,
	"Proxy-Connection": true, "Te": true, "Trailer": true,
}

// HTTP sends a caller's request to the function app, the way the host handles it.
//
// target is a function name ("order-created"), a route ("order-created" when no function has
// that name) or a full path ("/api/order-created", optionally with "?raw=query"). query is
// appended to any query in target. To simulate a chunked caller (no Content-Length; the host
// then drops the body in both modes), put "Transfer-Encoding: chunked" in header.
//
// The host first enforces authLevel (default "function"): the key must come as the "code"
// query parameter or the x-functions-key header and match a function, host or master key;
// otherwise the caller gets 401 and the handler is not invoked. An unknown route or a method
// not in "methods" gets 404. Then, if forwarding applies (§3), the request is forwarded to the
// same path with a rebuilt query (code kept), all headers except content headers, User-Agent
// with " Azure-Functions-Host/<ver>" appended, the invocation id and host version headers, and
// the body only when Content-Length > 0; the handler's status, headers and body go back to the
// caller unchanged, redirects not followed. Otherwise the §2 envelope is posted to /<function>
// and Outputs.<http output> is mapped to the response; a failed invocation gives the caller 500
// with an empty body.
func (s *Sim) HTTP(method, target string, query url.Values, header http.Header, body []byte) *HTTPResult {
	path, rawQuery := s.resolveTarget(target)
	if enc := query.Encode(); enc != "" {
		if rawQuery != "" {
			rawQuery += "&"
		}
		rawQuery += enc
	}
	header = header.Clone()
	if header == nil {
		header = http.Header{}
	}
	host := header.Get("Host")
	if host == "" {
		host = s.opts.PublicHost
	}
	header.Del("Host")
	chunked := strings.EqualFold(header.Get("Transfer-Encoding"), "chunked")
	hasBody := !chunked && len(body) > 0 // the host reads/forwards the body only with Content-Length > 0
	if !chunked {
		header.Set("Content-Length", strconv.Itoa(len(body)))
		if len(body) == 0 && method != http.MethodPost && method != http.MethodPut && method != http.MethodPatch {
			header.Del("Content-Length")
		}
	} else {
		header.Del("Content-Length")
	}

	decoded, err := url.PathUnescape(path)
	if err != nil {
		decoded = path
	}
	fn, params, ok := s.app.MatchRoute(method, decoded)
	if !ok || fn.Disabled {
		return &HTTPResult{StatusCode: http.StatusNotFound, Header: http.Header{}}
	}
	pairs := parseQuery(rawQuery)
	level, keyID, authorized := s.authorize(fn, header, pairs)
	if !authorized {
		return &HTTPResult{StatusCode: http.StatusUnauthorized, Header: http.Header{}, Function: fn.Name}
	}
	if fn.Forwarding {
		return s.forward(fn, method, path, pairs, host, header, body, hasBody)
	}
	req := requestInfo{
		method: method, path: path, rawQuery: rawQuery, pairs: pairs, host: host, header: header,
		body: body, hasBody: hasBody, params: params, authLevel: level, keyID: keyID,
	}
	return s.envelopeHTTP(fn, req)
}

// resolveTarget turns HTTP's target into a path and raw query.
func (s *Sim) resolveTarget(target string) (string, string) {
	if strings.HasPrefix(target, "/") {
		path, rawQuery, _ := strings.Cut(target, "?")
		return path, rawQuery
	}
	if fn, ok := s.app.Functions[target]; ok && fn.Trigger.Is("httpTrigger") {
		return "/" + s.app.RouteTemplate(fn), ""
	}
	route, rawQuery, _ := strings.Cut(target, "?")
	if p := s.app.Host.RoutePrefix(); p != "" {
		return "/" + p + "/" + strings.TrimPrefix(route, "/"), rawQuery
	}
	return "/" + strings.TrimPrefix(route, "/"), rawQuery
}

// authorize checks the function's authLevel (§3 "Keys and auth"). It returns the level and key
// id to put in the caller's identity ("" when no valid key was presented).
func (s *Sim) authorize(fn *Function, header http.Header, pairs []queryPair) (level, keyID string, ok bool) {
	key := header.Get("X-Functions-Key")
	if key == "" {
		for _, p := range pairs {
			if strings.EqualFold(p.Key, "code") {
				key = p.joined()
				break
			}
		}
	}
	switch {
	case key == "":
	case key == s.opts.MasterKey:
		level, keyID = "Admin", "master"
	case key == s.opts.HostKey, key == s.opts.FunctionKeys[fn.Name] && key != "":
		level, keyID = "Function", "default"
	}
	switch strings.ToLower(fn.Trigger.AuthLevel) {
	case "anonymous":
		return level, keyID, true
	case "admin":
		return level, keyID, level == "Admin"
	default: // "function", and the default when authLevel is unset
		return level, keyID, level != ""
	}
}

// forward replays the request to the handler as the host does with enableForwardingHttpRequest.
func (s *Sim) forward(fn *Function, method, path string, pairs []queryPair, host string, header http.Header, body []byte, hasBody bool) *HTTPResult {
	rawQuery := rebuildQuery(pairs)
	inv := &Invocation{Kind: KindHTTPForward, Function: fn.Name, ID: newGUID(), Method: method, Path: path, RawQuery: rawQuery}
	defer s.record(inv)
	result := &HTTPResult{Function: fn.Name, Forwarded: true, Invoked: true, Invocation: inv}
	target := s.base + path
	if rawQuery != "" {
		target += "?" + rawQuery
	}
	var reqBody io.Reader
	if hasBody {
		reqBody = bytes.NewReader(body)
		inv.RequestBody = body
	}
	ctx, cancel := s.ctx()
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, target, reqBody)
	if err != nil {
		inv.Err = fmt.Errorf("build forwarded request: %w", err)
		result.StatusCode, result.Header = http.StatusInternalServerError, http.Header{}
		return result
	}
	req.Host = host
	for name, values := range header {
		canon := http.CanonicalHeaderKey(name)
		if contentHeaders[canon] || hopHeaders[canon] {
			continue
		}
		for _, v := range values {
			req.Header.Add(name, v)
		}
	}
	if hasBody {
		if ct := header.Get("Content-Type"); ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		req.ContentLength = int64(len(body))
	}
	ua := "Azure-Functions-Host/" + s.opts.HostVersion
	if orig := header.Get("User-Agent"); orig != "" {
		ua = orig + " " + ua
	}
	req.Header.Set("User-Agent", ua)
	req.Header.Add("X-Azure-Functions-InvocationId", inv.ID)
	req.Header.Add("X-Azure-Functions-HostVersion", s.opts.HostVersion)
	inv.RequestHeader = req.Header.Clone()
	inv.RequestHeader.Set("Host", host)
	resp, err := s.client.Do(req)
	if err != nil {
		inv.Err = fmt.Errorf("forward to %s: %w", fn.Name, err)
		result.StatusCode, result.Header = http.StatusInternalServerError, http.Header{}
		return result
	}
	defer resp.Body.Close()
	respBody, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes))
	if err != nil {
		inv.Err = fmt.Errorf("read forwarded response of %s: %w", fn.Name, err)
		result.StatusCode, result.Header = http.StatusInternalServerError, http.Header{}
		return result
	}
	inv.StatusCode, inv.Header, inv.Body = resp.StatusCode, resp.Header, respBody
	result.StatusCode, result.Header, result.Body = resp.StatusCode, resp.Header.Clone(), respBody
	return result
}

// requestInfo is a caller's request as the host parsed it.
type requestInfo struct {
	method, path, rawQuery string
	pairs                  []queryPair
	host                   string
	header                 http.Header
	body                   []byte
	hasBody                bool
	params                 map[string]string
	authLevel, keyID       string
}

// envelopeHTTP sends the §2 invocation and maps Outputs.res to the caller's response.
func (s *Sim) envelopeHTTP(fn *Function, r requestInfo) *HTTPResult {
	envelope, err := marshalNoHTMLEscape(map[string]any{
		"Data":     map[string]any{fn.Trigger.Name: s.dataReq(r)},
		"Metadata": httpMetadata(fn, r),
	})
	if err != nil {
		return &HTTPResult{StatusCode: http.StatusInternalServerError, Header: http.Header{}, Function: fn.Name}
	}
	inv := s.invoke(KindHTTP, fn.Name, envelope)
	result := &HTTPResult{Function: fn.Name, Invoked: true, Invocation: inv}
	if inv.Err != nil {
		result.StatusCode, result.Header = http.StatusInternalServerError, http.Header{}
		return result
	}
	outName := ""
	for _, b := range fn.Bindings {
		if b.Is("http") && strings.EqualFold(b.Direction, "out") {
			outName = b.Name
		}
	}
	var raw json.RawMessage
	var found bool
	if outName == "$return" {
		raw, found = inv.Reply.ReturnValue, string(bytes.TrimSpace(inv.Reply.ReturnValue)) != "null"
	} else if outName != "" {
		raw, found = inv.Reply.Output(outName)
	}
	if !found {
		// [infer] with no http output value the caller gets 200 and {}.
		result.StatusCode, result.Body = http.StatusOK, []byte("{}")
		result.Header = http.Header{"Content-Type": {"application/json; charset=utf-8"}}
		return result
	}
	status, header, body, err := mapHTTPOutput(raw)
	if err != nil {
		inv.Err = &ReplyError{Status: inv.StatusCode, Reason: "http output: " + err.Error()}
		result.StatusCode, result.Header = http.StatusInternalServerError, http.Header{}
		return result
	}
	result.StatusCode, result.Header, result.Body = status, header, body
	return result
}

// dataReq builds Data.req exactly like HttpRequestExtensions.GetRequestAsJObject (§2).
func (s *Sim) dataReq(r requestInfo) map[string]any {
	u := s.opts.Scheme + "://" + r.host + r.path
	if r.rawQuery != "" {
		u += "?" + r.rawQuery
	}
	query := map[string]string{}
	for _, p := range r.pairs {
		query[p.Key] = p.joined()
	}
	headers := map[string][]string{"Host": {r.host}}
	for name, values := range r.header {
		headers[name] = append([]string(nil), values...)
	}
	params := r.params
	if params == nil {
		params = map[string]string{}
	}
	identities := []any{}
	if r.authLevel != "" {
		identities = append(identities, keyIdentity(r.authLevel, r.keyID))
	}
	req := map[string]any{
		"Url": u, "Method": r.method, "Query": query, "Headers": headers, "Params": params, "Identities": identities,
	}
	if r.hasBody {
		if isBase64MediaType(r.header.Get("Content-Type")) {
			req["Body"] = base64.StdEncoding.EncodeToString(r.body)
		} else {
			req["Body"] = readBodyAsText(r.body)
		}
	}
	return req
}

// keyIdentity is the ClaimsIdentity the host adds for a request authenticated with a key.
func keyIdentity(level, keyID string) map[string]any {
	claim := func(typ, value string) map[string]any {
		return map[string]any{
			"Issuer": "LOCAL AUTHORITY", "OriginalIssuer": "LOCAL AUTHORITY", "Properties": map[string]any{},
			"Type": typ, "Value": value, "ValueType": "http://www.w3.org/2001/XMLSchema#string",
		}
	}
	return map[string]any{
		"AuthenticationType": "WebJobsAuthLevel", "IsAuthenticated": true, "Actor": nil, "BootstrapContext": nil,
		"Claims": []any{
			claim("http://schemas.microsoft.com/2017/07/functions/claims/authlevel", level),
			claim("http://schemas.microsoft.com/2017/07/functions/claims/keyid", keyID),
		},
		"Label": nil, "Name": nil,
		"NameClaimType": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
		"RoleClaimType": "http://schemas.microsoft.com/ws/2008/06/identity/claims/role",
	}
}

// httpMetadata builds Metadata for an HTTP invocation (§2): the top-level non-array properties
// of a JSON body, the query parameters except code and the route parameters, each as its own
// key with scalars double-encoded, then Query (last value wins), Headers (values joined with
// ",") and sys. Precedence on a name clash (an approximation): sys/Query/Headers win over route
// parameters, which win over query parameters, which win over body properties. Bools from the
// body travel as .NET prints them ("True").
func httpMetadata(fn *Function, r requestInfo) map[string]any {
	md := map[string]any{}
	if r.hasBody && mediaType(r.header.Get("Content-Type")) == "application/json" {
		for k, v := range bodyProperties(r.body) {
			md[k] = v
		}
	}
	lastQuery := map[string]string{}
	for _, p := range r.pairs {
		last := p.Values[len(p.Values)-1]
		lastQuery[p.Key] = last
		if !strings.EqualFold(p.Key, "code") {
			md[p.Key] = doubleEncode(last)
		}
	}
	for k, v := range r.params {
		md[k] = doubleEncode(v)
	}
	headers := map[string]string{"Host": r.host}
	for name, values := range r.header {
		headers[name] = strings.Join(values, ",")
	}
	md["Query"] = lastQuery
	md["Headers"] = headers
	md["sys"] = sysMetadata(fn.Name, time.Now().UTC().Format("2006-01-02T15:04:05.0000000Z"))
	return md
}

// bodyProperties returns the top-level non-array, non-null properties of a JSON object body as
// Metadata values: objects stay objects, scalars become double-encoded strings of their text.
func bodyProperties(body []byte) map[string]any {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var obj map[string]json.RawMessage
	if dec.Decode(&obj) != nil {
		return nil
	}
	out := map[string]any{}
	for k, raw := range obj {
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 {
			continue
		}
		switch raw[0] {
		case '[', 'n':
			continue // arrays and null are left out
		case '{':
			out[k] = raw
		case '"':
			var s string
			if json.Unmarshal(raw, &s) == nil {
				out[k] = doubleEncode(s)
			}
		case 't':
			out[k] = doubleEncode("True")
		case 'f':
			out[k] = doubleEncode("False")
		default:
			out[k] = doubleEncode(string(raw))
		}
	}
	return out
}

// mapHTTPOutput turns Outputs.res into the caller's response like the host's HttpBinding (§2):
// property names case-insensitive, statusCode (or status) a number or numeric string, headers
// an object, body a string (an object or array is written as indented JSON). Stricter than the
// host: a header value that is an object or array is an error (the host would write its JSON
// text, which is never what was meant).
func mapHTTPOutput(raw json.RawMessage) (int, http.Header, []byte, error) {
	raw = bytes.TrimSpace(raw)
	header := http.Header{}
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, nil, nil, err
		}
		header.Set("Content-Type", "text/plain; charset=utf-8")
		return http.StatusOK, header, []byte(s), nil
	}
	var fields map[string]json.RawMessage
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &fields) != nil {
		return 0, nil, nil, fmt.Errorf("value %.60s is not an object", raw)
	}
	get := func(name string) (json.RawMessage, bool) {
		for k, v := range fields {
			if strings.EqualFold(k, name) {
				return bytes.TrimSpace(v), true
			}
		}
		return nil, false
	}
	status := http.StatusOK
	sv, ok := get("statusCode")
	if !ok {
		sv, ok = get("status")
	}
	if ok && string(sv) != "null" {
		text := string(sv)
		if len(sv) > 0 && sv[0] == '"' {
			_ = json.Unmarshal(sv, &text)
		}
		n, err := strconv.Atoi(strings.TrimSpace(text))
		if err != nil || n < 100 || n > 999 {
			return 0, nil, nil, fmt.Errorf("statusCode %s", sv)
		}
		status = n
	}
	if hv, ok := get("headers"); ok && string(hv) != "null" {
		var hs map[string]json.RawMessage
		if len(hv) == 0 || hv[0] != '{' || json.Unmarshal(hv, &hs) != nil {
			return 0, nil, nil, fmt.Errorf("headers %.60s is not an object", hv)
		}
		for name, v := range hs {
			v = bytes.TrimSpace(v)
			switch {
			case len(v) == 0 || string(v) == "null":
				continue
			case v[0] == '"':
				var s string
				if err := json.Unmarshal(v, &s); err != nil {
					return 0, nil, nil, fmt.Errorf("header %q: %w", name, err)
				}
				header.Set(name, s)
			case v[0] == '{' || v[0] == '[':
				return 0, nil, nil, fmt.Errorf("header %q is %.40s, not a string", name, v)
			default:
				header.Set(name, string(v))
			}
		}
	}
	var body []byte
	if bv, ok := get("body"); ok && string(bv) != "null" && len(bv) > 0 {
		switch bv[0] {
		case '"':
			var s string
			if err := json.Unmarshal(bv, &s); err != nil {
				return 0, nil, nil, fmt.Errorf("body: %w", err)
			}
			body = []byte(s)
		case '{', '[':
			var buf bytes.Buffer
			if err := json.Indent(&buf, bv, "", "  "); err != nil {
				return 0, nil, nil, fmt.Errorf("body: %w", err)
			}
			body = buf.Bytes()
		default:
			body = append([]byte(nil), bv...)
		}
	}
	if header.Get("Content-Type") == "" && len(body) > 0 {
		header.Set("Content-Type", "text/plain; charset=utf-8") // [infer] the host's default
	}
	return status, header, body, nil
}

// isBase64MediaType: the host sends octet-stream and multipart bodies as base64 (§2).
func isBase64MediaType(contentType string) bool {
	mt := mediaType(contentType)
	return mt == "application/octet-stream" || strings.HasPrefix(mt, "multipart/")
}

func mediaType(contentType string) string {
	if mt, _, err := mime.ParseMediaType(contentType); err == nil {
		return mt
	}
	mt, _, _ := strings.Cut(contentType, ";")
	return strings.ToLower(strings.TrimSpace(mt))
}
