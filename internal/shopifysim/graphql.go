package shopifysim

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"

	"github.com/shipwell/orderflow/internal/shopify/schema"
)

var (
	schemaOnce  sync.Once
	adminSchema *ast.Schema
	schemaErr   error
)

// Schema returns the parsed Admin API schema the simulator validates against (loaded once).
func Schema() (*ast.Schema, error) {
	schemaOnce.Do(func() {
		adminSchema, schemaErr = gqlparser.LoadSchema(&ast.Source{Name: "admin-" + schema.Version + ".graphql", Input: schema.AdminSDL})
	})
	return adminSchema, schemaErr
}

// gqlError is one entry of a response's errors[].
type gqlError struct {
	Message    string         `json:"message"`
	Locations  []location     `json:"locations,omitempty"`
	Path       []any          `json:"path,omitempty"`
	Extensions map[string]any `json:"extensions,omitempty"`
}

type location struct {
	Line   int `json:"line"`
	Column int `json:"column"`
}

func locOf(p *ast.Position) []location {
	if p == nil {
		return nil
	}
	return []location{{Line: p.Line, Column: p.Column}}
}

// fieldError is an error a resolver returns: it becomes a top-level errors[] entry with the
// field's location and path, and the field's value is null.
type fieldError struct {
	message string
	code    string
	ext     map[string]any
	locs    []location // extra locations after the field's own
}

// Error returns the message.
func (e *fieldError) Error() string { return e.message }

// obj is a GraphQL object as the resolvers build it: field name → value, where a value may be
// a resolver computing it from the field's arguments. "__typename" names the object's type.
type obj map[string]any

// resolver computes a field's value from its arguments.
type resolver func(args map[string]any, f *ast.Field) (any, error)

// jsonObject is a JSON object that keeps its keys in selection order.
type jsonObject struct {
	keys []string
	vals []any
}

func (o *jsonObject) set(k string, v any) {
	o.keys = append(o.keys, k)
	o.vals = append(o.vals, v)
}

// MarshalJSON writes the object with its keys in order.
func (o *jsonObject) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		vb, err := json.Marshal(o.vals[i])
		if err != nil {
			return nil, err
		}
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// parseErrorResponse turns a gqlparser syntax error into Shopify's PARSE_ERROR shape:
// "syntax error, unexpected end of file at [3, 5]" (at the last token for end of file).
func parseErrorResponse(src string, err error) gqlError {
	msg := err.Error()
	line, col := 1, 1
	if ge, ok := err.(*gqlerror.Error); ok {
		msg = ge.Message
		if len(ge.Locations) > 0 {
			line, col = ge.Locations[0].Line, ge.Locations[0].Column
		}
	}
	unexpected := "unexpected token"
	if m := regexp.MustCompile(`found (.+)$`).FindStringSubmatch(msg); m != nil {
		unexpected = "unexpected " + strings.Trim(m[1], `"`)
	}
	if strings.Contains(msg, "<EOF>") {
		unexpected = "unexpected end of file"
		line, col = lastTokenPosition(src)
	}
	return gqlError{
		Message:    fmt.Sprintf("syntax error, %s at [%d, %d]", unexpected, line, col),
		Locations:  []location{{line, col}},
		Extensions: map[string]any{"code": "PARSE_ERROR"},
	}
}

// lastTokenPosition returns the line and column where the document's last token starts.
func lastTokenPosition(src string) (int, int) {
	line, col := 1, 0
	tl, tc := 1, 1
	inName, inComment := false, false
	for _, r := range src {
		col++
		switch {
		case r == '\n':
			line, col = line+1, 0
			inName, inComment = false, false
		case inComment:
		case r == '#':
			inComment, inName = true, false
		case r == ' ' || r == '\t' || r == ',' || r == '\r':
			inName = false
		case r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9':
			if !inName {
				tl, tc, inName = line, col, true
			}
		default:
			tl, tc, inName = line, col, false
		}
	}
	return tl, tc
}

var (
	reUndefinedField = regexp.MustCompile(`^Cannot query field "([^"]+)" on type "([^"]+)"`)
	reNoSelection    = regexp.MustCompile(`^Field "([^"]+)" of type "([^"]+)" must have a selection of subfields`)
	reScalarSelected = regexp.MustCompile(`^Field "([^"]+)" must not have a selection since type "([^"]+)"`)
	reUnknownArg     = regexp.MustCompile(`^Unknown argument "([^"]+)" on field "([^".]+)\.([^"]+)"`)
	reMissingArg     = regexp.MustCompile(`^Field "([^"]+)" argument "([^"]+)" of type "([^"]+)" is required`)
	reUnusedVar      = regexp.MustCompile(`^Variable "\$([^"]+)" is never used`)
	reUndefinedVar   = regexp.MustCompile(`^Variable "\$([^"]+)" is not defined`)
	reUnknownDir     = regexp.MustCompile(`^Unknown directive "@([^"]+)"`)
)

// validationErrors maps gqlparser's validation errors to Shopify's codes and messages
// (undefinedField, selectionMismatch, argumentNotAccepted, …) with Shopify's path form
// (["query Name", "field", ...]).
func validationErrors(doc *ast.QueryDocument, list gqlerror.List) []gqlError {
	out := make([]gqlError, 0, len(list))
	for _, e := range list {
		g := gqlError{Message: e.Message, Extensions: map[string]any{}}
		for _, l := range e.Locations {
			g.Locations = append(g.Locations, location{l.Line, l.Column})
		}
		if len(e.Locations) > 0 {
			g.Path = pathAt(doc, e.Locations[0].Line, e.Locations[0].Column)
		}
		switch {
		case reUndefinedField.MatchString(e.Message):
			m := reUndefinedField.FindStringSubmatch(e.Message)
			g.Message = fmt.Sprintf("Field '%s' doesn't exist on type '%s'", m[1], m[2])
			g.Extensions = map[string]any{"code": "undefinedField", "typeName": m[2], "fieldName": m[1]}
		case reNoSelection.MatchString(e.Message):
			m := reNoSelection.FindStringSubmatch(e.Message)
			typ := strings.Trim(m[2], "[]!")
			g.Message = fmt.Sprintf("Field must have selections (field '%s' returns %s but has no selections. Did you mean '%s { ... }'?)", m[1], typ, m[1])
			g.Extensions = map[string]any{"code": "selectionMismatch", "nodeName": "field '" + m[1] + "'", "typeName": typ}
		case reScalarSelected.MatchString(e.Message):
			m := reScalarSelected.FindStringSubmatch(e.Message)
			g.Message = fmt.Sprintf("Selections can't be made on scalars (field '%s' returns %s but has selections)", m[1], m[2])
			g.Extensions = map[string]any{"code": "selectionMismatch", "nodeName": "field '" + m[1] + "'", "typeName": m[2]}
		case reUnknownArg.MatchString(e.Message):
			m := reUnknownArg.FindStringSubmatch(e.Message)
			g.Message = fmt.Sprintf("Field '%s' doesn't accept argument '%s'", m[3], m[1])
			g.Extensions = map[string]any{"code": "argumentNotAccepted", "name": m[3], "typeName": "Field", "argumentName": m[1]}
		case reMissingArg.MatchString(e.Message):
			m := reMissingArg.FindStringSubmatch(e.Message)
			g.Message = fmt.Sprintf("Field '%s' is missing required arguments: %s", m[1], m[2])
			g.Extensions = map[string]any{"code": "missingRequiredArguments", "className": "Field", "name": m[1], "arguments": m[2]}
		case reUnusedVar.MatchString(e.Message):
			m := reUnusedVar.FindStringSubmatch(e.Message)
			g.Message = fmt.Sprintf("Variable $%s is declared by %s but not used", m[1], opLabel(doc))
			g.Extensions = map[string]any{"code": "variableNotUsed", "variableName": m[1]}
		case reUndefinedVar.MatchString(e.Message):
			m := reUndefinedVar.FindStringSubmatch(e.Message)
			g.Message = fmt.Sprintf("Variable $%s is used by %s but not declared", m[1], opLabel(doc))
			g.Extensions = map[string]any{"code": "variableNotDefined", "variableName": m[1]}
		case reUnknownDir.MatchString(e.Message):
			m := reUnknownDir.FindStringSubmatch(e.Message)
			g.Message = fmt.Sprintf("Directive @%s is not defined", m[1])
			g.Extensions = map[string]any{"code": "undefinedDirective", "directiveName": m[1]}
		case e.Rule == "VariablesInAllowedPosition":
			g.Extensions["code"] = "variableMismatch"
		case e.Rule == "ValuesOfCorrectType":
			g.Extensions["code"] = "argumentLiteralsIncompatible"
		default:
			g.Extensions["code"] = "validationError"
			if e.Rule != "" {
				g.Extensions["rule"] = e.Rule
			}
		}
		out = append(out, g)
	}
	return out
}

func opLabel(doc *ast.QueryDocument) string {
	if len(doc.Operations) == 0 {
		return "anonymous operation"
	}
	op := doc.Operations[0]
	if op.Name == "" {
		return "anonymous " + string(op.Operation)
	}
	return string(op.Operation) + " " + op.Name
}

// pathAt returns Shopify's path to the selection at line:col, e.g.
// ["query Name", "products", "nodes", "bogus"].
func pathAt(doc *ast.QueryDocument, line, col int) []any {
	var walk func(set ast.SelectionSet, path []any) []any
	walk = func(set ast.SelectionSet, path []any) []any {
		for _, s := range set {
			switch s := s.(type) {
			case *ast.Field:
				p := append(append([]any{}, path...), s.Name)
				if s.Position != nil && s.Position.Line == line && s.Position.Column == col {
					return p
				}
				if r := walk(s.SelectionSet, p); r != nil {
					return r
				}
			case *ast.InlineFragment:
				p := append(append([]any{}, path...), "... on "+s.TypeCondition)
				if r := walk(s.SelectionSet, p); r != nil {
					return r
				}
			}
		}
		return nil
	}
	for _, op := range doc.Operations {
		label := string(op.Operation)
		if op.Name != "" {
			label += " " + op.Name
		}
		if op.Position != nil && op.Position.Line == line && op.Position.Column == col {
			return []any{label}
		}
		if r := walk(op.SelectionSet, []any{label}); r != nil {
			return r
		}
	}
	for _, fr := range doc.Fragments {
		if r := walk(fr.SelectionSet, []any{"fragment " + fr.Name}); r != nil {
			return r
		}
	}
	return nil
}

// checkVariables validates the request variables against the operation's declarations like
// Shopify does (INVALID_VARIABLE with value and problems).
func checkVariables(sch *ast.Schema, op *ast.OperationDefinition, vars map[string]any) []gqlError {
	var out []gqlError
	for _, vd := range op.VariableDefinitions {
		v, present := vars[vd.Variable]
		if !present && vd.DefaultValue != nil {
			continue
		}
		probs := checkValue(sch, v, vd.Type, nil)
		if len(probs) == 0 {
			continue
		}
		p := probs[0]
		msg := fmt.Sprintf("Variable $%s of type %s was provided invalid value", vd.Variable, vd.Type.String())
		if len(p.Path) > 0 {
			parts := make([]string, len(p.Path))
			for i, s := range p.Path {
				parts[i] = fmt.Sprint(s)
			}
			msg += fmt.Sprintf(" for %s (%s)", strings.Join(parts, "."), p.Explanation)
		}
		list := make([]any, len(probs))
		for i, pr := range probs {
			path := pr.Path
			if path == nil {
				path = []any{}
			}
			list[i] = map[string]any{"path": path, "explanation": pr.Explanation}
		}
		out = append(out, gqlError{
			Message:    msg,
			Locations:  locOf(vd.Position),
			Extensions: map[string]any{"code": "INVALID_VARIABLE", "value": v, "problems": list},
		})
	}
	return out
}

type problem struct {
	Path        []any
	Explanation string
}

// checkValue checks a JSON-decoded value against an input type.
func checkValue(sch *ast.Schema, v any, t *ast.Type, path []any) []problem {
	if v == nil {
		if t.NonNull {
			return []problem{{path, "Expected value to not be null"}}
		}
		return nil
	}
	if t.Elem != nil {
		list, ok := v.([]any)
		if !ok {
			return checkValue(sch, v, t.Elem, path)
		}
		var out []problem
		for i, e := range list {
			out = append(out, checkValue(sch, e, t.Elem, append(append([]any{}, path...), i))...)
		}
		return out
	}
	def := sch.Types[t.NamedType]
	if def == nil {
		return []problem{{path, "Unknown type " + t.NamedType}}
	}
	switch def.Kind {
	case ast.Scalar:
		if !scalarOK(def.Name, v) {
			b, _ := json.Marshal(v)
			return []problem{{path, fmt.Sprintf("Could not coerce value %s to %s", b, def.Name)}}
		}
	case ast.Enum:
		s, ok := v.(string)
		if !ok || def.EnumValues.ForName(s) == nil {
			names := make([]string, len(def.EnumValues))
			for i, e := range def.EnumValues {
				names[i] = e.Name
			}
			b, _ := json.Marshal(v)
			return []problem{{path, fmt.Sprintf("Expected %s to be one of: %s", b, strings.Join(names, ", "))}}
		}
	case ast.InputObject:
		m, ok := v.(map[string]any)
		if !ok {
			return []problem{{path, "Expected value to be an object"}}
		}
		var out []problem
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if def.Fields.ForName(k) == nil {
				out = append(out, problem{append(append([]any{}, path...), k), "Field is not defined on " + def.Name})
			}
		}
		for _, f := range def.Fields {
			fv, present := m[f.Name]
			if !present && f.DefaultValue != nil {
				continue
			}
			out = append(out, checkValue(sch, fv, f.Type, append(append([]any{}, path...), f.Name))...)
		}
		return out
	}
	return nil
}

func scalarOK(name string, v any) bool {
	switch name {
	case "Int":
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		i, err := strconv.ParseInt(n.String(), 10, 64)
		return err == nil && i >= -1<<31 && i < 1<<31
	case "Float":
		_, ok := v.(json.Number)
		return ok
	case "String":
		_, ok := v.(string)
		return ok
	case "Boolean":
		_, ok := v.(bool)
		return ok
	case "ID":
		switch v.(type) {
		case string, json.Number:
			return true
		}
		return false
	}
	switch v.(type) {
	case map[string]any:
		return name == "JSON"
	}
	return true
}

// estimateCost is the requested cost of a selection, an approximation of Shopify's rules
// calibrated on recorded answers: scalars 0, objects 1, connections 2 + first × their
// selection, lists of objects their element's selection once, mutation fields 10.
func estimateCost(sch *ast.Schema, set ast.SelectionSet, vars map[string]any, mutationRoot bool) int {
	total := 0
	for _, f := range flatten(set) {
		if f.Definition == nil || f.Name == "__typename" {
			continue
		}
		def := sch.Types[f.Definition.Type.Name()]
		if def == nil || (def.Kind != ast.Object && def.Kind != ast.Interface && def.Kind != ast.Union) {
			continue
		}
		args := f.ArgumentMap(vars)
		children := estimateCost(sch, f.SelectionSet, vars, false)
		switch {
		case mutationRoot:
			total += 10 + children
		case strings.HasSuffix(def.Name, "Connection"):
			n := toInt(args["first"])
			if n == 0 {
				n = toInt(args["last"])
			}
			if n == 0 {
				n = 10
			}
			total += 2 + n*children
		case f.Name == "nodes" && f.Definition.Type.Elem != nil:
			if ids, ok := args["ids"].([]any); ok {
				total += len(ids) * children
			} else {
				total += children
			}
		case f.Definition.Type.Elem != nil, def.Name == "PageInfo":
			total += children
		default:
			total += 1 + children
		}
	}
	return total
}

// flatten lists the fields of a selection set, fragments included (all type conditions).
func flatten(set ast.SelectionSet) []*ast.Field {
	var out []*ast.Field
	for _, s := range set {
		switch s := s.(type) {
		case *ast.Field:
			out = append(out, s)
		case *ast.InlineFragment:
			out = append(out, flatten(s.SelectionSet)...)
		case *ast.FragmentSpread:
			if s.Definition != nil {
				out = append(out, flatten(s.Definition.SelectionSet)...)
			}
		}
	}
	return out
}

// executor projects resolver objects onto a selection set, collecting errors and the
// actual cost.
type executor struct {
	schema *ast.Schema
	vars   map[string]any
	errors []gqlError
}

// collected is one response key and the fields selected under it.
type collected struct {
	key    string
	fields []*ast.Field
}

// collect groups the fields of set that apply to typeName by response key, in order.
func (x *executor) collect(set ast.SelectionSet, typeName string, into []collected) []collected {
	for _, s := range set {
		switch s := s.(type) {
		case *ast.Field:
			key := s.Alias
			if key == "" {
				key = s.Name
			}
			found := false
			for i := range into {
				if into[i].key == key {
					into[i].fields = append(into[i].fields, s)
					found = true
					break
				}
			}
			if !found {
				into = append(into, collected{key: key, fields: []*ast.Field{s}})
			}
		case *ast.InlineFragment:
			if x.applies(typeName, s.TypeCondition) {
				into = x.collect(s.SelectionSet, typeName, into)
			}
		case *ast.FragmentSpread:
			if s.Definition != nil && x.applies(typeName, s.Definition.TypeCondition) {
				into = x.collect(s.Definition.SelectionSet, typeName, into)
			}
		}
	}
	return into
}

func (x *executor) applies(typeName, cond string) bool {
	if cond == "" || cond == typeName {
		return true
	}
	def := x.schema.Types[cond]
	if def == nil {
		return false
	}
	for _, p := range x.schema.GetPossibleTypes(def) {
		if p.Name == typeName {
			return true
		}
	}
	return false
}

// selectObject resolves the selection set on o. mutationRoot marks the root of a mutation.
// It returns the JSON object and the actual cost of the selection.
func (x *executor) selectObject(o obj, set ast.SelectionSet, path []any, mutationRoot bool) (*jsonObject, int) {
	typeName, _ := o["__typename"].(string)
	out := &jsonObject{}
	cost := 0
	for _, c := range x.collect(set, typeName, nil) {
		f := c.fields[0]
		p := append(append([]any{}, path...), c.key)
		if f.Name == "__typename" {
			out.set(c.key, typeName)
			continue
		}
		var sub ast.SelectionSet
		for _, ff := range c.fields {
			sub = append(sub, ff.SelectionSet...)
		}
		val := o[f.Name]
		if r, ok := val.(resolver); ok {
			var err error
			val, err = r(f.ArgumentMap(x.vars), f)
			if err != nil {
				x.fieldError(err, f, p)
				val = nil
			}
		}
		if f.Definition == nil {
			out.set(c.key, val)
			continue
		}
		v, children := x.complete(val, f.Definition.Type, sub, p)
		out.set(c.key, v)
		def := x.schema.Types[f.Definition.Type.Name()]
		if def == nil || (def.Kind != ast.Object && def.Kind != ast.Interface && def.Kind != ast.Union) {
			continue
		}
		switch {
		case mutationRoot:
			cost += 10 + children
		case strings.HasSuffix(def.Name, "Connection"):
			cost += 2 + children
		case f.Definition.Type.Elem != nil, def.Name == "PageInfo":
			cost += children
		default:
			cost += 1 + children
		}
	}
	return out, cost
}

// complete shapes a resolved value for its type and sub-selection.
func (x *executor) complete(val any, t *ast.Type, set ast.SelectionSet, path []any) (any, int) {
	if val == nil {
		return nil, 0
	}
	if t.Elem != nil {
		var items []any
		switch l := val.(type) {
		case []any:
			items = l
		case []obj:
			for _, o := range l {
				items = append(items, o)
			}
		case []string:
			for _, s := range l {
				items = append(items, s)
			}
		default:
			items = []any{val}
		}
		out := make([]any, len(items))
		cost := 0
		for i, it := range items {
			v, c := x.complete(it, t.Elem, set, append(append([]any{}, path...), i))
			out[i] = v
			cost += c
		}
		return out, cost
	}
	if o, ok := val.(obj); ok {
		return x.selectObject(o, set, path, false)
	}
	return val, 0
}

func (x *executor) fieldError(err error, f *ast.Field, path []any) {
	g := gqlError{Message: err.Error(), Locations: locOf(f.Position), Path: path}
	if fe, ok := err.(*fieldError); ok {
		g.Extensions = map[string]any{"code": fe.code}
		for k, v := range fe.ext {
			g.Extensions[k] = v
		}
		g.Locations = append(g.Locations, fe.locs...)
	} else {
		g.Extensions = map[string]any{"code": "INTERNAL_SERVER_ERROR"}
	}
	x.errors = append(x.errors, g)
}

// connection builds a Relay connection over nodes (first/after, last/before, reverse).
func connection(typeName string, nodes []obj, args map[string]any) obj {
	if b, _ := args["reverse"].(bool); b {
		rev := make([]obj, len(nodes))
		for i, n := range nodes {
			rev[len(nodes)-1-i] = n
		}
		nodes = rev
	}
	start, end := 0, len(nodes)
	if a, ok := args["after"].(string); ok && a != "" {
		if i, ok := decodeCursor(a); ok {
			start = min(i+1, len(nodes))
		}
	}
	if b, ok := args["before"].(string); ok && b != "" {
		if i, ok := decodeCursor(b); ok {
			end = max(min(i, len(nodes)), start)
		}
	}
	if n := toInt(args["first"]); n > 0 && start+n < end {
		end = start + n
	}
	if n := toInt(args["last"]); n > 0 && end-n > start {
		start = end - n
	}
	page := nodes[start:end]
	edges := make([]obj, len(page))
	list := make([]obj, len(page))
	for i, n := range page {
		edges[i] = obj{"__typename": typeName + "Edge", "cursor": encodeCursor(start + i), "node": n}
		list[i] = n
	}
	pi := obj{
		"__typename":      "PageInfo",
		"hasNextPage":     end < len(nodes),
		"hasPreviousPage": start > 0,
		"startCursor":     nil,
		"endCursor":       nil,
	}
	if len(page) > 0 {
		pi["startCursor"] = encodeCursor(start)
		pi["endCursor"] = encodeCursor(end - 1)
	}
	return obj{"__typename": typeName + "Connection", "nodes": list, "edges": edges, "pageInfo": pi}
}

func encodeCursor(i int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("sim-cursor:" + strconv.Itoa(i)))
}

func decodeCursor(s string) (int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || !strings.HasPrefix(string(b), "sim-cursor:") {
		return 0, false
	}
	i, err := strconv.Atoi(strings.TrimPrefix(string(b), "sim-cursor:"))
	return i, err == nil
}

// toInt reads an integer argument (json.Number from variables, int64 from literals).
func toInt(v any) int {
	switch n := v.(type) {
	case json.Number:
		i, _ := strconv.Atoi(n.String())
		return i
	case int64:
		return int(n)
	case int:
		return n
	case float64:
		return int(n)
	}
	return 0
}

// parseAndValidate parses and validates a document against the schema; errors come back in
// Shopify's shapes.
func parseAndValidate(sch *ast.Schema, query string) (*ast.QueryDocument, []gqlError) {
	doc, err := parser.ParseQuery(&ast.Source{Name: "request", Input: query})
	if err != nil {
		return nil, []gqlError{parseErrorResponse(query, err)}
	}
	if errs := validator.ValidateWithRules(sch, doc, nil); len(errs) > 0 {
		return nil, validationErrors(doc, errs)
	}
	return doc, nil
}
